// The fault control page: keeps the token in sessionStorage and calls the
// token-protected control API. Nothing here works without the token.
const $ = (id) => document.getElementById(id);
const KEY = "voltline-control-token";
const headers = () => ({ "x-control-token": sessionStorage.getItem(KEY) || "", "content-type": "application/json" });
const say = (t) => { $("status-line").textContent = t; };

async function refresh() {
  const r = await fetch("/control/faults", { headers: headers() });
  if (r.status === 401) {
    sessionStorage.removeItem(KEY);
    $("auth").hidden = false; $("fault").hidden = true; $("state").hidden = true;
    say("Token refused.");
    return;
  }
  const s = await r.json();
  $("auth").hidden = true; $("fault").hidden = false; $("state").hidden = false;
  $("state").textContent = JSON.stringify(s.faults, null, 2) || "{}";
}

$("auth").addEventListener("submit", (e) => {
  e.preventDefault();
  sessionStorage.setItem(KEY, $("token").value);
  refresh();
});

$("fault").addEventListener("submit", async (e) => {
  e.preventDefault();
  const mode = $("mode").value;
  const rule = { mode, rate: Number($("rate").value) };
  if (mode === "error") rule.status = Number($("status").value);
  if (mode === "delay") rule.ms = Number($("ms").value);
  if (Number($("start").value) > 0) rule.start_in_ms = Number($("start").value) * 1000;
  if (Number($("for").value) > 0) rule.for_ms = Number($("for").value) * 1000;
  const r = await fetch("/control/faults/" + $("endpoint").value, { method: "PUT", headers: headers(), body: JSON.stringify(rule) });
  say(r.ok ? "Applied." : "Refused: " + (await r.text()));
  refresh();
});

$("clear").addEventListener("click", async () => {
  await fetch("/control/faults", { method: "DELETE", headers: headers() });
  say("Cleared.");
  refresh();
});

if (sessionStorage.getItem(KEY)) refresh();
