// The landing page's module (internal/showcase): a visitor reads the page
// as the server drew it; someone signed in on this device (the saved
// account, see session.js) gets the app, which draws their streets in place.
if (localStorage.getItem('civico.user')) import('./app.js');
