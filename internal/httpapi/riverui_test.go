package httpapi

import (
	"os/exec"
	"strings"
	"testing"
)

// TestRiverUIScriptSendsJSON runs the script added to River UI's page in Node, over a fetch
// that records its calls: River UI's mutations (a string body and no type, or no body) go out
// as application/json with their other headers kept; reads are left as they are.
func TestRiverUIScriptSendsJSON(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found (%v): install Node.js 20+ (the NestJS compatibility tests need it too)", err)
	}
	script := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(jsonMutationsScript), "<script>"), "</script>")
	program := `
globalThis.window = globalThis;
const calls = [];
window.fetch = (input, init) => { calls.push([input, init]); return Promise.resolve(); };
` + script + `
(async () => {
  await window.fetch("/riverui/api/jobs/cancel", {method: "POST", body: JSON.stringify({ids: ["1"]}), headers: {Accept: "application/json"}});
  await window.fetch("/riverui/api/queues/warm/pause", {method: "put"});
  await window.fetch("/riverui/api/jobs", {headers: {Accept: "application/json"}});
  await window.fetch("/riverui/api/queues");
  for (const [url, init] of calls) {
    const h = new Headers((init && init.headers) || {});
    console.log([url, (init && init.method) || "GET", h.get("Content-Type"), h.get("Accept")].join(" "));
  }
})();
`
	out, err := exec.Command(node, "-e", program).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	want := strings.Join([]string{
		"/riverui/api/jobs/cancel POST application/json application/json",
		"/riverui/api/queues/warm/pause put application/json ",
		"/riverui/api/jobs GET  application/json",
		"/riverui/api/queues GET  ",
	}, "\n") + "\n"
	if string(out) != want {
		t.Fatalf("calls as sent:\n%s\nwant:\n%s", out, want)
	}
}
