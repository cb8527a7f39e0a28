package showcase

// pageHTML is every public page. Its header, main and toast carry the
// same ids as the app's shell (pwa/index.html): a page that loads the app
// is one the app can take over in place. No inline script or style: the
// site's Content-Security-Policy allows neither.
const pageHTML = `<!doctype html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<title>{{.Title}}</title>
<meta name="description" content="{{.Description}}">
{{- if .NoIndex}}
<meta name="robots" content="noindex">
{{- end}}
<link rel="canonical" href="{{.Canonical}}">
<meta property="og:type" content="website">
<meta property="og:site_name" content="Civico">
<meta property="og:title" content="{{.Title}}">
<meta property="og:description" content="{{.Description}}">
<meta property="og:url" content="{{.Canonical}}">
<meta property="og:image" content="{{.Image}}">
<meta property="og:image:type" content="image/png">
<meta property="og:image:width" content="1200">
<meta property="og:image:height" content="630">
<meta property="og:image:alt" content="{{.Alt}}">
<meta property="og:locale" content="{{.Locale}}">
<meta property="og:locale:alternate" content="{{.AltLocale}}">
<meta name="twitter:card" content="summary_large_image">
<meta name="twitter:title" content="{{.Title}}">
<meta name="twitter:description" content="{{.Description}}">
<meta name="twitter:image" content="{{.Image}}">
<meta name="twitter:image:alt" content="{{.Alt}}">
<meta name="theme-color" content="#1f6f5c">
<link rel="manifest" href="/manifest.webmanifest">
<link rel="icon" type="image/png" sizes="192x192" href="/icons/icon-192.png">
<link rel="apple-touch-icon" href="/icons/apple-touch-icon.png">
<link rel="stylesheet" href="/css/app.css">
{{- with .Script}}
<script type="module" src="{{.}}"></script>
{{- end}}
</head>
<body>
<a class="skip" id="skip" href="#main">{{index .W "public.skip"}}</a>
<header class="bar" id="bar">
<a class="brand" href="/" id="brand" aria-label="{{index .W "public.home"}}"><img src="/icons/icon-192.png" alt="" width="32" height="32"><span>Civico</span></a>
<p class="net" id="net" role="status" aria-live="polite" hidden></p>
<nav class="nav" id="nav" aria-label="{{index .W "public.nav.label"}}"><ul>
<li><a href="/places">{{index .W "public.nav.places"}}</a></li>
<li><a href="/signin">{{index .W "public.nav.signin"}}</a></li>
</ul></nav>
</header>
<div class="update" id="update" role="status" hidden></div>
<div class="banner" id="verify-banner" role="status" hidden></div>
<main id="main" tabindex="-1">
{{- with .Landing}}
<section class="stack" id="landing">
<h1>{{index $.W "public.landing.heading"}}</h1>
<p class="lead">{{index $.W "public.landing.what1"}}</p>
<p>{{index $.W "public.landing.what2"}}</p>
</section>
{{template "search" $}}
<section class="card stack" id="start">
<h2>{{index $.W "public.start.heading"}}</h2>
<p>{{index $.W "public.start.text"}}</p>
<p><a class="btn primary wide" href="/signup?next=%2Fstreets%2Fnew" id="start-street">{{index $.W "public.start.action"}}</a></p>
<p class="center"><a href="/signin">{{index $.W "public.signin"}}</a></p>
</section>
{{- end}}
{{- with .Card}}
<article class="card stack" id="street-card">
{{- with .Lead}}
<p class="lead">{{.}}</p>
{{- end}}
<h1 id="street-name">{{.Name}}</h1>
<p class="lead" id="street-city">{{.City}}</p>
{{- with .Description}}
<p id="street-description">{{.}}</p>
{{- end}}
<p class="meta" id="street-members">{{.Members}}</p>
<p><a class="btn primary wide" href="{{.JoinURL}}" id="join">{{.JoinLabel}}</a></p>
<p class="hint">{{index $.W "public.street.join.hint"}}</p>
</article>
<p class="center"><a href="/" id="what">{{index $.W "public.street.what"}}</a></p>
{{- end}}
{{- if .NotFound}}
<section class="stack" id="not-found">
<h1>{{index $.W "public.notfound.title"}}</h1>
<p>{{index $.W "public.notfound.text"}}</p>
</section>
{{- end}}
{{- with .Results}}
{{template "search" $}}
<section class="stack" id="results" aria-live="polite">
{{- if .Invalid}}
<p class="state error">{{index $.W "public.results.invalid"}}</p>
{{- else if .Items}}
<ul class="cards list">
{{- range .Items}}
<li class="card"><a href="{{.URL}}"><strong>{{.Name}}</strong></a><br><span class="meta">{{.City}} · {{.Members}}</span></li>
{{- end}}
</ul>
{{- with .More}}
<p><a class="btn" href="{{.}}" rel="next">{{index $.W "public.results.more"}}</a></p>
{{- end}}
{{- else if .Searched}}
<p class="state empty">{{index $.W "public.results.none"}}</p>
{{- end}}
<p class="center"><a href="/signup?next=%2Fstreets%2Fnew">{{index $.W "public.start.action"}}</a></p>
</section>
{{- end}}
</main>
<div class="toast" id="toast" role="status" aria-live="polite" aria-atomic="true"></div>
</body>
</html>
{{define "search"}}
<form class="card stack" id="find" method="get" action="/s" role="search">
<h2>{{index .W "public.find.heading"}}</h2>
<div class="field"><label for="find-q">{{index .W "public.find.name"}}</label>
<input id="find-q" name="q" type="search" maxlength="100" autocomplete="off"{{with .Results}} value="{{.Q}}"{{end}}></div>
<div class="field"><label for="find-city">{{index .W "public.find.city"}}</label>
<input id="find-city" name="city" type="text" maxlength="80" autocomplete="address-level2"{{with .Results}} value="{{.City}}"{{end}}></div>
<button class="btn primary wide" type="submit">{{index .W "public.find.submit"}}</button>
</form>
{{end}}`
