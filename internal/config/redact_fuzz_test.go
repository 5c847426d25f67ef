package config

import (
	"bytes"
	"log/slog"
	"net/url"
	"strings"
	"testing"
)

// FuzzRedact writes a password into every form a DSN or a Redis address can take (a URL,
// key=value quoted or not, with or without spaces around =, a cluster entry with no scheme),
// escaped as the forms require or raw, and checks that nothing cachewarm shows of it, redacted
// form, start-line log or configuration error, contains the password. Passwords start with
// "S3cr", which nothing else in the inputs contains: for the correctly escaped forms, no
// output may contain even that. The seeds run in go test; fuzz with
//
//	go test ./internal/config -run '^$' -fuzz '^FuzzRedact$' -fuzztime 20000x
func FuzzRedact(f *testing.F) {
	for _, s := range []string{"PW", "etPW", " PW", "'PW", `"PW`, `\PW`, `\'`, "PW@h/x", "PW:1", "PW/", "PW?x=1", "PW#", "PW%", "PW%41", "PW host=evil", "PW'", "PW,h2:1", "", "\x00", "\n"} {
		for form := range uint8(forms) {
			f.Add(s, form)
		}
	}
	f.Fuzz(func(t *testing.T, suffix string, form uint8) {
		pw := "S3cr" + suffix
		in, escaped := buildSecret(pw, form%forms)
		var outs []string
		outs = append(outs, RedactDSN(in), RedactRedisURL(in))
		for _, name := range []string{"DATABASE_URL", "REDIS_URL", "REDIS_CLUSTER_ADDRS"} {
			c, err := Load(env(map[string]string{name: in}))
			if err != nil {
				outs = append(outs, err.Error())
				continue
			}
			var logged bytes.Buffer
			slog.New(slog.NewTextHandler(&logged, nil)).Info("worker started", "config", c)
			outs = append(outs, logged.String(), c.Redis.String())
			rdb, err := c.Redis.NewRedis()
			if err != nil {
				outs = append(outs, err.Error())
				continue
			}
			_ = rdb.Close()
		}
		for _, out := range outs {
			if strings.Contains(out, pw) {
				t.Fatalf("password %q of %q shown: %s", pw, in, out)
			}
			if escaped && strings.Contains(out, "S3cr") {
				t.Fatalf("part of password %q of %q shown: %s", pw, in, out)
			}
		}
	})
}

// forms is how many ways buildSecret writes a password.
const forms = 10

// buildSecret writes pw into a connection string of the given form, and says whether pw is
// escaped as the form requires (so that a parser reads it back whole).
func buildSecret(pw string, form uint8) (string, bool) {
	userinfo := url.UserPassword("app", pw).String()
	quoted := "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(pw) + "'"
	switch form {
	case 0:
		return "postgres://" + userinfo + "@db.internal:5432/erp?sslmode=disable", true
	case 1:
		return "host=db.internal user=app password=" + quoted + " dbname=erp sslmode=disable", true
	case 2:
		return "host=db.internal user=app password = " + quoted + " dbname=erp sslmode=disable", true
	case 3:
		return "postgres://app@db.internal/erp?sslmode=disable&password=" + url.QueryEscape(pw), true
	case 4:
		return "redis://" + userinfo + "@cache.internal:6379/0", true
	case 5:
		return userinfo + "@cache.internal:7000", true
	case 6:
		return "postgres://app:" + pw + "@db.internal:5432/erp?sslmode=disable", false
	case 7:
		return "host=db.internal user=app password=" + pw + " dbname=erp sslmode=disable", false
	case 8:
		return "redis://:" + pw + "@cache.internal:6379/0", false
	default:
		return "app:" + pw + "@cache.internal:7000", false
	}
}
