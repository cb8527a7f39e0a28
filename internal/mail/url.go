package mail

import (
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Security is how a Transport protects the connection to the relay.
type Security int

// The securities CIVICO_SMTP_URL can ask for.
const (
	// StartTLS (smtp://) upgrades the connection and refuses a relay that
	// does not offer STARTTLS: credentials and mail never go in clear.
	StartTLS Security = iota
	// ImplicitTLS (smtps://) speaks TLS from the first byte.
	ImplicitTLS
	// Plain (smtp+insecure://) has no TLS: only for a relay on loopback.
	Plain
)

// Transport is the SMTP relay CIVICO_SMTP_URL names.
type Transport struct {
	Host     string
	Port     int
	Security Security
	Username string
	Password string
}

// String names the relay for logs, without the password.
func (t Transport) String() string {
	scheme := map[Security]string{StartTLS: "smtp", ImplicitTLS: "smtps", Plain: "smtp+insecure"}[t.Security]
	user := ""
	if t.Username != "" {
		user = url.User(t.Username).String() + "@"
	}
	return scheme + "://" + user + net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
}

// URLError is why CIVICO_SMTP_URL was refused. Its text is one of a fixed
// set: it never repeats the URL, which may hold a password.
type URLError struct{ Problem string }

func (e *URLError) Error() string { return "CIVICO_SMTP_URL: " + e.Problem }

// The problems ParseURL names.
var (
	errURLSyntax   = &URLError{"not a valid URL (smtp://user:pass@host:587, smtps://user:pass@host:465 or smtp+insecure://127.0.0.1:25)"}
	errURLScheme   = &URLError{"the scheme must be smtp:// (STARTTLS), smtps:// (implicit TLS) or smtp+insecure:// (loopback only)"}
	errURLHost     = &URLError{"no host"}
	errURLPort     = &URLError{"the port must be a number from 1 to 65535"}
	errURLRest     = &URLError{"a path, query or fragment has no meaning here"}
	errURLLoopback = &URLError{"smtp+insecure:// sends mail and credentials in clear: the host must be a loopback address (127.0.0.1, ::1, localhost)"}
	errURLUser     = &URLError{"the user name or password holds a control character"}
)

// ParseURL reads CIVICO_SMTP_URL: smtp://[user:pass@]host[:587] (STARTTLS,
// mandatory), smtps://[user:pass@]host[:465] (implicit TLS), or
// smtp+insecure://host[:25] (no TLS; host must be on loopback). User and
// password are URL-decoded.
func ParseURL(raw string) (Transport, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Opaque != "" {
		return Transport{}, errURLSyntax
	}
	var t Transport
	switch strings.ToLower(u.Scheme) {
	case "smtp":
		t.Security, t.Port = StartTLS, 587
	case "smtps":
		t.Security, t.Port = ImplicitTLS, 465
	case "smtp+insecure":
		t.Security, t.Port = Plain, 25
	default:
		return Transport{}, errURLScheme
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return Transport{}, errURLRest
	}
	t.Host = u.Hostname()
	if t.Host == "" {
		return Transport{}, errURLHost
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return Transport{}, errURLPort
		}
		t.Port = n
	} else if strings.HasSuffix(u.Host, ":") {
		return Transport{}, errURLPort
	}
	if t.Security == Plain && !loopback(t.Host) {
		return Transport{}, errURLLoopback
	}
	if u.User != nil {
		t.Username = u.User.Username()
		t.Password, _ = u.User.Password()
		if hasControl(t.Username) || hasControl(t.Password) {
			return Transport{}, errURLUser
		}
	}
	return t, nil
}

// loopback tells whether host is this machine: a loopback IP, or localhost.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// hasControl tells whether s holds a control character (CR, LF, NUL…),
// which would break the SMTP dialogue.
func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}
