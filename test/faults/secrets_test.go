package faults_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/fixture"
	"github.com/cachewarm/cachewarm/internal/testenv"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// withPassword returns the URL u with user user and password pw.
func withPassword(t testing.TB, u, user, pw string) string {
	t.Helper()
	parsed, err := url.Parse(u)
	require.NoError(t, err)
	parsed.User = url.UserPassword(user, pw)
	return parsed.String()
}

// TestSecretsNeverShown runs the worker and the commands with passwords in DATABASE_URL and
// REDIS_URL (a Redis started with requirepass) and an API token, through success and through
// every failure it can cause (wrong password, unreachable servers, Redis gone mid-run,
// malformed URLs): no password or token appears in any log line, error, /health, /metrics,
// API answer or status output.
func TestSecretsNeverShown(t *testing.T) {
	t.Parallel()
	env := fixture.New(t, 3)
	ctx := context.Background()
	pgPW, redisPW, token := "pg-secret-"+randomHex(6), "redis-secret-"+randomHex(6), "api-secret-"+randomHex(6)
	wrongPW := "wrong-secret-" + randomHex(6)
	secrets := []string{pgPW, redisPW, token, wrongPW}
	rs := testenv.NewRedisServer(t, "--requirepass", redisPW)
	// PostgreSQL here trusts loopback clients, so the password is accepted as given; what
	// matters is where the URL goes.
	dbURL := withPassword(t, env.DBURL, "postgres", pgPW)
	wenv := workerEnv(env, map[string]string{"DATABASE_URL": dbURL, "REDIS_URL": rs.URL(redisPW), "CACHEWARM_API_TOKEN": token})

	var outputs []string
	runAny := func(env map[string]string, args ...string) (string, error) {
		out, err := start(t, "cachewarm "+args[0], env, args...).Wait(time.Minute)
		outputs = append(outputs, out)
		return out, err
	}
	get := func(w *testenv.WorkerProc, path string, auth bool) (int, string) {
		req, err := http.NewRequest(http.MethodGet, w.Base+path, nil)
		require.NoError(t, err)
		if auth {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := httpClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		requireNoSecret(t, "GET "+path, string(b), secrets...)
		return resp.StatusCode, string(b)
	}

	// With the right passwords everything works.
	w := startWorker(t, "worker", with(wenv, "CACHEWARM_LOG_LEVEL", "debug"))
	out, err := runAny(wenv, "warm", "--tenant", "t001", "--wait")
	require.NoError(t, err, out)
	require.NotZero(t, verifyDatasets(t, env.Pool, rs.Client(redisPW), []string{"t001"}, datasetNames(catalog.PhaseCritical, catalog.PhaseHigh)))
	for _, args := range [][]string{{"status"}, {"status", "--tenant", "t001"}, {"status", "--failed"}} {
		out, err := runAny(wenv, args...)
		require.NoError(t, err, out)
	}
	for _, path := range []string{"/health", "/metrics", "/api/cache/stats", "/api/cache/workflows", "/api/cache/workflows?tenant=t001", "/riverui/"} {
		code, body := get(w, path, true)
		require.Less(t, code, 400, "GET %s: %s", path, body)
	}
	code, body := get(w, "/api/cache/workflows?tenant=t1:*", true)
	require.Equal(t, http.StatusBadRequest, code, body)
	code, body = get(w, "/api/cache/workflows?tenant=t001", false)
	require.Equal(t, http.StatusUnauthorized, code, "the reads need the token too: %s", body)

	// Failures: each names what is wrong, never a password.
	for _, tt := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"wrong redis password", with(wenv, "REDIS_URL", rs.URL(wrongPW)), "redis"},
		{"wrong REDIS_PASSWORD", with(with(wenv, "REDIS_URL", ""), "REDIS_HOST", "127.0.0.1", "REDIS_PORT", strconv.Itoa(rs.Port), "REDIS_PASSWORD", wrongPW), "redis"},
		{"unreachable postgres", with(wenv, "DATABASE_URL", fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%d/x?sslmode=disable&connect_timeout=2", pgPW, testenv.FreePort(t))), "postgres"},
		{"unknown database", with(wenv, "DATABASE_URL", withPassword(t, missingDB(t, env.DBURL), "postgres", pgPW)), "postgres"},
		{"malformed DATABASE_URL", with(wenv, "DATABASE_URL", "postgres://postgres:"+pgPW+"@127.0.0.1:notaport/db"), "DATABASE_URL"},
		{"malformed REDIS_URL", with(wenv, "REDIS_URL", "redis://:"+redisPW+"@127.0.0.1:6379/notadb"), "REDIS_URL"},
		{"password-bearing key=value DATABASE_URL", with(wenv, "DATABASE_URL", "host=127.0.0.1 port="+strconv.Itoa(testenv.FreePort(t))+" user=postgres password="+pgPW+" connect_timeout=2"), "postgres"},
	} {
		for _, cmd := range []string{"status", "worker"} {
			out, err := runAny(with(tt.env, "HTTP_ADDR", "127.0.0.1:0"), cmd)
			require.Error(t, err, "%s: cachewarm %s must fail:\n%s", tt.name, cmd, out)
			require.Contains(t, out, tt.want, "%s: cachewarm %s says what is wrong", tt.name, cmd)
			requireNoSecret(t, tt.name+": cachewarm "+cmd, out, secrets...)
		}
	}

	// Redis gone while the worker runs: /health, the logs and a warm's errors.
	rs.Stop()
	waitFor(t, 10*time.Second, "/health 503", func() (bool, error) {
		code, _ := get(w, "/health", false)
		return code == http.StatusServiceUnavailable, nil
	})
	code, body = get(w, "/api/cache/stats", true)
	require.Equal(t, http.StatusServiceUnavailable, code, body)
	get(w, "/metrics", false)
	_, err = env.Pool.Exec(ctx, `UPDATE vendors SET name = name || '.' WHERE tenant_id = 't001' AND id = (SELECT min(id) FROM vendors WHERE tenant_id = 't001')`)
	require.NoError(t, err)
	waitFor(t, 20*time.Second, "the change re-warm to fail", func() (bool, error) {
		return strings.Contains(w.Out.String(), "dataset failed"), nil
	})
	out, err = runAny(wenv, "status")
	require.Error(t, err, out)
	w.Stop(t)
	outputs = append(outputs, w.Out.String())
	for i, o := range outputs {
		requireNoSecret(t, fmt.Sprintf("process output %d", i), o, secrets...)
	}
	t.Logf("%d process outputs (%d bytes) and every HTTP answer are free of the passwords and the token", len(outputs), len(strings.Join(outputs, "")))
}

// missingDB returns u naming a database that does not exist.
func missingDB(t testing.TB, u string) string {
	t.Helper()
	parsed, err := url.Parse(u)
	require.NoError(t, err)
	parsed.Path += "_missing"
	return parsed.String()
}

// with returns a copy of env with pairs of keys and values set (an empty value removes the key).
func with(env map[string]string, kv ...string) map[string]string {
	out := make(map[string]string, len(env)+len(kv)/2)
	for k, v := range env {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(out, kv[i])
		} else {
			out[kv[i]] = kv[i+1]
		}
	}
	return out
}

// TestRedisTLSWithPassword runs a worker and the commands against a Redis that takes only
// TLS connections (rediss://) and a password, its certificate signed by a throwaway CA given
// in REDIS_TLS_CA_FILE; without the CA the certificate is refused.
func TestRedisTLSWithPassword(t *testing.T) {
	t.Parallel()
	env := fixture.New(t, 3)
	dir := t.TempDir()
	caFile, certFile, keyFile, roots := writeTestCerts(t, dir)
	pw := "tls-secret-" + randomHex(6)
	tlsPort := testenv.FreePort(t)
	rs := testenv.NewRedisServer(t, "--requirepass", pw, "--tls-port", strconv.Itoa(tlsPort), "--tls-cert-file", certFile,
		"--tls-key-file", keyFile, "--tls-ca-cert-file", caFile, "--tls-auth-clients", "no")
	if strings.Contains(rs.Output(), "TLS") && strings.Contains(rs.Output(), "not supported") {
		t.Fatalf("this redis-server was built without TLS: %s", rs.Output())
	}
	redisURL := fmt.Sprintf("rediss://:%s@127.0.0.1:%d/0", pw, tlsPort)
	wenv := workerEnv(env, map[string]string{"REDIS_URL": redisURL, "REDIS_TLS_CA_FILE": caFile})

	startWorker(t, "worker", wenv)
	out := run(t, wenv, "warm", "--tenant", "t001", "--tenant", "t002", "--wait")
	requireNoSecret(t, "warm output", out, pw)

	tlsClient := redis.NewClient(&redis.Options{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(tlsPort)), Password: pw,
		TLSConfig: &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}})
	t.Cleanup(func() { _ = tlsClient.Close() })
	n := verifyDatasets(t, env.Pool, tlsClient, []string{"t001", "t002"}, datasetNames(catalog.PhaseCritical, catalog.PhaseHigh))
	t.Logf("over TLS with a password: %d keys of 2 tenants match the database", n)

	// Without the CA the server's certificate is refused, with a clear error.
	out, err := start(t, "status without CA", with(wenv, "REDIS_TLS_CA_FILE", ""), "status").Wait(time.Minute)
	require.Error(t, err, out)
	require.Contains(t, out, "certificate")
	requireNoSecret(t, "status without CA", out, pw)
	out, err = start(t, "status with missing CA", with(wenv, "REDIS_TLS_CA_FILE", filepath.Join(dir, "missing.pem")), "status").Wait(time.Minute)
	require.Error(t, err, out)
	require.Contains(t, out, "REDIS_TLS_CA_FILE")
}

// writeTestCerts writes a throwaway CA and a server certificate for 127.0.0.1 and localhost,
// signed by it, as PEM files in dir.
func writeTestCerts(t *testing.T, dir string) (caFile, certFile, keyFile string, roots *x509.CertPool) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cachewarm faults test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	caCert, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
		return p
	}
	roots = x509.NewCertPool()
	roots.AddCert(caCert)
	return write("ca.pem", "CERTIFICATE", caDER), write("server.pem", "CERTIFICATE", leafDER), write("server-key.pem", "PRIVATE KEY", keyDER), roots
}
