// The gallery map: every enrolled person as a point on a canvas (one draw call per frame, so
// 10,000 people render at once), a hover label from a coarse grid, a click opens the person.
"use strict";
(async () => {
  const canvas = document.getElementById("gallery-map");
  const hover = document.getElementById("map-hover");
  const answer = await fetch(canvas.dataset.points, { credentials: "same-origin" });
  if (answer.status !== 200) { location.reload(); return; }
  const people = (await answer.json()).people;
  const ctx = canvas.getContext("2d");
  const pad = 12, w = canvas.width - 2 * pad, h = canvas.height - 2 * pad;
  const xy = people.map(([, , x, y]) => [pad + x * w, pad + (1 - y) * h]);
  ctx.fillStyle = "#1d6fd8";
  ctx.globalAlpha = people.length > 2000 ? 0.5 : 0.85;
  ctx.beginPath();
  for (const [x, y] of xy) { ctx.moveTo(x + 2.5, y); ctx.arc(x, y, 2.5, 0, 2 * Math.PI); }
  ctx.fill();
  const cell = 16, grid = new Map();
  xy.forEach(([x, y], i) => {
    const key = `${Math.floor(x / cell)},${Math.floor(y / cell)}`;
    if (!grid.has(key)) grid.set(key, []);
    grid.get(key).push(i);
  });
  const nearest = (event) => {
    const box = canvas.getBoundingClientRect();
    const x = (event.clientX - box.left) * canvas.width / box.width, y = (event.clientY - box.top) * canvas.height / box.height;
    let best = -1, bestD = 64;
    for (let dx = -1; dx <= 1; dx++) for (let dy = -1; dy <= 1; dy++) {
      for (const i of grid.get(`${Math.floor(x / cell) + dx},${Math.floor(y / cell) + dy}`) || []) {
        const d = (xy[i][0] - x) ** 2 + (xy[i][1] - y) ** 2;
        if (d < bestD) { best = i; bestD = d; }
      }
    }
    return best;
  };
  canvas.addEventListener("mousemove", (event) => {
    const i = nearest(event);
    hover.textContent = i < 0 ? "\u00a0" : `${people[i][0]} (${people[i][1]})`;
  });
  canvas.addEventListener("click", (event) => {
    const i = nearest(event);
    if (i >= 0) location.href = `/people/${encodeURIComponent(people[i][0])}`;
  });
  canvas.dataset.drawn = String(people.length);
})();
