package config

import (
	"errors"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"
)

// Redaction rebuilds what it shows from what the drivers' own parsers read (pgconn for
// PostgreSQL, go-redis for Redis), putting a mask where the password was: nothing of the
// original text is copied, so no quoting, escaping or spacing of a password can let it through.
// A string its parser refuses is not shown at all, and neither is the parser's error, which
// may quote a piece of it.

// mask stands for a password.
const mask = "xxxxx"

// notShown replaces a connection string or URL that could not be parsed.
const notShown = "(not shown: it cannot be parsed, and may hold a password)"

// unparseable says why a setting is refused without quoting it.
const unparseable = "cannot be parsed (its text is not shown: it may hold a password); check its form, host:port and database, and percent-encode special characters in a URL's password"

// dsnUnparseable is unparseable for a connection string pgconn refused, with pgconn's reason
// when it can be had without any of the string: the message of its ParseConfigError (a fixed
// text, or another setting's value), and the cause only for TLS settings (such as "sslmode is
// invalid"), as a URL parser's cause may quote a piece of the URL.
func dsnUnparseable(err error) string {
	var pe *pgconn.ParseConfigError
	if !errors.As(err, &pe) {
		return unparseable
	}
	bare := *pe
	bare.ConnString = ""
	text, ok := strings.CutPrefix(bare.Error(), "cannot parse ``: ")
	if !ok {
		return unparseable
	}
	if cause := errors.Unwrap(pe); cause != nil {
		if text, ok = strings.CutSuffix(text, " ("+cause.Error()+")"); !ok {
			return unparseable
		}
		if text == "failed to configure TLS" {
			text += " (" + cause.Error() + ")"
		}
	}
	return "cannot be parsed: " + text + " (its text is not shown: it may hold a password)"
}

// RedactDSN describes a PostgreSQL connection string (URL or key=value) for logs: scheme,
// user, hosts, ports and database, with the password, if any, masked. One that pgconn cannot
// parse is not shown.
func RedactDSN(dsn string) string {
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return notShown
	}
	hosts := []string{hostPort(cfg.Host, cfg.Port)}
	for _, f := range cfg.Fallbacks {
		if hp := hostPort(f.Host, f.Port); !slices.Contains(hosts, hp) {
			hosts = append(hosts, hp)
		}
	}
	u := url.URL{Scheme: "postgres", Host: strings.Join(hosts, ","), Path: "/" + cfg.Database}
	switch {
	case cfg.Password != "":
		u.User = url.UserPassword(cfg.User, mask)
	case cfg.User != "":
		u.User = url.User(cfg.User)
	}
	return u.String()
}

func hostPort(host string, port uint16) string {
	if strings.HasPrefix(host, "/") { // a Unix socket directory
		return host
	}
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}

// RedactRedisURL describes a redis://, rediss:// or unix:// URL for logs: scheme, user,
// address and database, with the password, if any, masked. One that go-redis cannot parse is
// not shown.
func RedactRedisURL(u string) string {
	opts, err := redis.ParseURL(u)
	if err != nil {
		return notShown
	}
	return redactedRedis(opts)
}

func redactedRedis(opts *redis.Options) string {
	out := url.URL{Scheme: "redis", Host: opts.Addr, Path: "/" + strconv.Itoa(opts.DB)}
	if opts.TLSConfig != nil {
		out.Scheme = "rediss"
	}
	if opts.Network == "unix" {
		out = url.URL{Scheme: "unix", Path: opts.Addr}
	}
	switch {
	case opts.Password != "":
		out.User = url.UserPassword(opts.Username, mask)
	case opts.Username != "":
		out.User = url.User(opts.Username)
	}
	return out.String()
}

// clusterEntryURL returns a REDIS_CLUSTER_ADDRS entry as a URL when it carries a scheme or
// credentials (user:password@host:port is read as redis://user:password@host:port), and ""
// for a plain host:port.
func clusterEntryURL(entry string) string {
	switch {
	case strings.Contains(entry, "://"):
		return entry
	case strings.Contains(entry, "@"):
		return "redis://" + entry
	}
	return ""
}
