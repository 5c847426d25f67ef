package httpapi

import (
	"bytes"
	"context"
	"crypto/subtle"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Protect guards a route that changes state or shows what only an operator may see
// (mutations, /riverui/, /debug/pprof/, the reads that name tenants). In order, it refuses:
//
//   - with a token set (CACHEWARM_API_TOKEN): a request without it, 401;
//   - with no token: a client that is not on loopback, 401, and a request whose Host is not a
//     loopback name or address (a page that rebinds its own DNS name to 127.0.0.1 sends its
//     own name), 403;
//   - a mutation (any method but GET, HEAD and OPTIONS) whose Origin, when present, is not
//     this server's own, 403, or whose Content-Type is not application/json, 415: a page on
//     another site can send neither without a CORS preflight, which this server never grants;
//   - a mutation's body larger than MaxBodyBytes, 413.
//
// Every refusal is JSON {"error": "..."}.
func (s *Server) Protect(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.authorizedClient(r) {
			if s.token == "" {
				WriteError(w, http.StatusUnauthorized, "no CACHEWARM_API_TOKEN is set: only loopback clients may do this")
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="cachewarm"`)
			WriteError(w, http.StatusUnauthorized, "missing or wrong bearer token")
			return
		}
		if s.token == "" && !LoopbackHost(r.Host) {
			WriteError(w, http.StatusForbidden, "no CACHEWARM_API_TOKEN is set: address this server as localhost, 127.0.0.1 or [::1] (Host "+
				fmt.Sprintf("%q", truncate(r.Host, 100))+" is refused)")
			return
		}
		if isMutation(r.Method) {
			if origin, present := r.Header["Origin"]; present && (len(origin) != 1 || !SameOrigin(origin[0], r.Host)) {
				WriteError(w, http.StatusForbidden, "cross-origin request refused: Origin is not this server")
				return
			}
			if !jsonContentType(r.Header.Get("Content-Type")) {
				WriteError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
				return
			}
			if !limitBody(w, r) {
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// authorized reports whether r may see everything: the right bearer token or, with no token
// set, a loopback client that addressed the server by a loopback name.
func (s *Server) authorized(r *http.Request) bool {
	return s.authorizedClient(r) && (s.token != "" || LoopbackHost(r.Host))
}

// authorizedClient checks the bearer token (in constant time) or, with no token set, that
// the client is on loopback.
func (s *Server) authorizedClient(r *http.Request) bool {
	if s.token == "" {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			return false
		}
		ip := net.ParseIP(host)
		return ip != nil && ip.IsLoopback()
	}
	scheme, got, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	return ok && strings.EqualFold(scheme, "Bearer") && subtle.ConstantTimeCompare([]byte(got), []byte(s.token)) == 1
}

// LoopbackHost reports whether a Host header names this machine's loopback interface:
// localhost (any case, with or without a trailing dot), an address in 127.0.0.0/8, or ::1
// in brackets, each with or without a port.
func LoopbackHost(host string) bool {
	h := host
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 || (end+1 < len(h) && !validPort(h[end+1:])) {
			return false
		}
		h = h[1:end]
		ip := net.ParseIP(h)
		return ip != nil && ip.To4() == nil && ip.IsLoopback()
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		if !validPort(h[i:]) {
			return false
		}
		h = h[:i]
	}
	if strings.EqualFold(strings.TrimSuffix(h, "."), "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.To4() != nil && ip.IsLoopback()
}

// validPort reports whether p is ":" followed by 1 to 5 digits.
func validPort(p string) bool {
	if len(p) < 2 || len(p) > 6 || p[0] != ':' {
		return false
	}
	for _, c := range p[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// SameOrigin reports whether origin (an Origin header: scheme://host[:port], or "null") is
// the server that was addressed as host (a Host header). Default ports are filled in from
// origin's scheme, so http://localhost and localhost:80 match.
func SameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return false
	}
	def := "80"
	if u.Scheme == "https" {
		def = "443"
	}
	return strings.EqualFold(withPort(u.Host, def), withPort(host, def))
}

// withPort returns hostport with port def added when it has none.
func withPort(hostport, def string) string {
	if _, _, err := net.SplitHostPort(hostport); err == nil {
		return hostport
	}
	return net.JoinHostPort(strings.Trim(hostport, "[]"), def)
}

// isMutation reports whether method may change state.
func isMutation(method string) bool {
	return method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions
}

// jsonContentType reports whether ct is application/json, parameters such as charset allowed.
func jsonContentType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}

// limitBody reads r's body, refusing one of more than MaxBodyBytes with 413, and gives the
// handler the bytes read. Reading it here answers in one format whoever serves the route
// (River UI's API has its own).
func limitBody(w http.ResponseWriter, r *http.Request) bool {
	tooBig := func() bool {
		w.Header().Set("Connection", "close")
		WriteError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", MaxBodyBytes))
		return false
	}
	if r.ContentLength > MaxBodyBytes {
		return tooBig()
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		WriteError(w, http.StatusBadRequest, "could not read the request body")
		return false
	}
	if len(body) > MaxBodyBytes {
		return tooBig()
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return true
}

// boundedRead runs a read with one of the server's read slots, so that however many reads
// arrive at once, they hold at most ReadLimit of the pool's connections, and with the read
// timeout. A read that finds no free slot within the timeout is refused with 503.
func (s *Server) boundedRead(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), s.readTimeout)
		defer cancel()
		select {
		case s.reads <- struct{}{}:
		case <-ctx.Done():
			w.Header().Set("Retry-After", "1")
			WriteError(w, http.StatusServiceUnavailable, "too many reads at once: try again")
			return
		}
		defer func() { <-s.reads }()
		next(w, r.WithContext(ctx))
	})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
