// The live door view: one table row per decision, newest on top, from /live/events (SSE).
(function () {
  const body = document.querySelector("#live tbody");
  const state = document.getElementById("live-state");
  const source = new EventSource("/live/events");
  source.onopen = () => { state.textContent = "live"; };
  source.onerror = () => { state.textContent = "reconnecting…"; };
  source.addEventListener("signed-out", () => {  // the session ended: stop, and go sign in again
    source.close();
    state.textContent = "signed out";
    window.location.assign("/login");
  });
  source.addEventListener("decision", (event) => {
    const d = JSON.parse(event.data);
    const row = document.createElement("tr");
    row.className = d.decision + " k-" + kindOf(d.decision);
    const cells = [d.event_id, d.at.replace("T", " ").slice(0, 19), d.door, d.decision, d.person || "", d.nearest || "",
      d.best == null ? "" : d.best.toFixed(3), d.detail || ""];
    cells.forEach((value, i) => {
      const cell = document.createElement("td");
      cell.textContent = String(value);  // text, never HTML: a detail cannot inject markup
      if (i === 3) cell.className = "decision";
      row.appendChild(cell);
    });
    const face = document.createElement("td");
    if (d.snapshot) {  // the door saved the face: show it (served by this console, key-opened)
      const img = document.createElement("img");
      img.src = "/audit/" + encodeURIComponent(d.event_id) + "/snapshot";
      img.alt = "face at the door";
      img.className = "thumb";
      img.width = 48;
      img.height = 48;
      face.appendChild(img);
    }
    row.prepend(face);
    body.prepend(row);
  });
})();

// The same kinds as the server's decision_kind (core/types.py): one colour per kind everywhere.
function kindOf(decision) {
  if (decision === "granted") return "granted";
  if (decision === "denied-spoof") return "spoof";
  if (decision.startsWith("denied")) return "denied";
  if (decision === "error") return "error";
  return "admin";
}
