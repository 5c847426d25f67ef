package httpapi

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
)

// jsonMutationsScript makes River UI's page send its API mutations (cancel, retry, delete,
// pause, resume...) as application/json: it sends most of them as text/plain or with no type,
// which Protect refuses, as it must refuse a form post or a no-cors fetch from another site.
const jsonMutationsScript = `<script>
(function () {
  // cachewarm: mutations must be application/json (cross-site write guard).
  var send = window.fetch;
  window.fetch = function (input, init) {
    var method = ((init && init.method) || (input && input.method) || "GET").toUpperCase();
    if (method !== "GET" && method !== "HEAD" && method !== "OPTIONS") {
      init = Object.assign({}, init);
      var headers = new Headers(init.headers || (input && input.headers) || undefined);
      headers.set("Content-Type", "application/json");
      init.headers = headers;
    }
    return send.call(this, input, init);
  };
})();
</script>
`

// riverUIPage serves ui, adding jsonMutationsScript first in its HTML pages' head, before
// River UI's own scripts.
func riverUIPage(ui http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || strings.HasPrefix(r.URL.Path, "/riverui/api/") {
			ui.ServeHTTP(w, r)
			return
		}
		pw := &pageWriter{ResponseWriter: w}
		ui.ServeHTTP(pw, r)
		pw.finish()
	})
}

// pageWriter holds back an HTML response to add the script; anything else passes through.
type pageWriter struct {
	http.ResponseWriter
	decided, html bool
	code          int
	buf           bytes.Buffer
}

func (p *pageWriter) WriteHeader(code int) {
	if p.decided {
		return
	}
	p.decided, p.code = true, code
	p.html = strings.HasPrefix(p.Header().Get("Content-Type"), "text/html")
	if !p.html {
		p.ResponseWriter.WriteHeader(code)
	}
}

func (p *pageWriter) Write(b []byte) (int, error) {
	if !p.decided {
		if p.Header().Get("Content-Type") == "" {
			p.Header().Set("Content-Type", http.DetectContentType(b))
		}
		p.WriteHeader(http.StatusOK)
	}
	if p.html {
		return p.buf.Write(b)
	}
	return p.ResponseWriter.Write(b)
}

// finish sends a held-back page with the script added first in its head.
func (p *pageWriter) finish() {
	if !p.html {
		return
	}
	page := p.buf.Bytes()
	if i := bytes.Index(page, []byte("<head>")); i >= 0 {
		i += len("<head>")
		page = append(page[:i:i], append([]byte("\n"+jsonMutationsScript), page[i:]...)...)
	}
	p.Header().Set("Content-Length", strconv.Itoa(len(page)))
	p.ResponseWriter.WriteHeader(p.code)
	_, _ = p.ResponseWriter.Write(page)
}
