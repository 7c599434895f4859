"use strict";
// The OpenPalm dashboard: draws each device's card from the fleet the server streams.
// Read-only. Text is always set with textContent; charts are SVG drawn here.

const SVG = "http://www.w3.org/2000/svg";
let fleet = null;
let offsetMs = 0;          // server clock minus browser clock

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

const hours = (s) => (s / 3600).toFixed(1);

function duration(seconds) {
  seconds = Math.max(0, Math.round(seconds));
  const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60);
  if (h) return `${h} h ${m} min`;
  if (m) return `${m} min`;
  return `${seconds} s`;
}

function ago(seconds) {
  if (seconds < 60) return "just now";
  return `${duration(seconds)} ago`;
}

const POSITION = {
  open: ["✓", "Hand open"], closed: ["✗", "Hand closed"], off: ["○", "Splint off"], unknown: ["?", "Position unknown"],
};

function ring(fraction, label) {
  const r = 52, c = 2 * Math.PI * r;
  const s = svg("svg", { viewBox: "0 0 120 120", class: "ring", role: "img", "aria-label": label });
  s.append(svg("circle", { cx: 60, cy: 60, r, fill: "none", stroke: "#ddd", "stroke-width": 14 }));
  s.append(svg("circle", {
    cx: 60, cy: 60, r, fill: "none", stroke: "#0a6b2f", "stroke-width": 14, "stroke-linecap": "butt",
    "stroke-dasharray": `${Math.min(1, fraction) * c} ${c}`, transform: "rotate(-90 60 60)",
  }));
  s.append(svg("text", { x: 60, y: 67, "text-anchor": "middle" }, `${Math.round(fraction * 100)}%`));
  return s;
}

function lastDays(today, n) {
  const out = [];
  const d = new Date(today + "T12:00:00Z");
  for (let i = n - 1; i >= 0; i--) {
    const x = new Date(d.getTime() - i * 86400000);
    out.push(x.toISOString().slice(0, 10));
  }
  return out;
}

function history(days, today, goalH) {
  const dates = lastDays(today, 14);
  const values = dates.map((d) => (days[d] ? days[d].open_s / 3600 : null));
  const top = Math.max(goalH * 1.25, ...values.filter((v) => v !== null), 1);
  const w = 280, h = 130, base = 108, bw = w / 14;
  const total = values.filter((v) => v !== null);
  const s = svg("svg", { viewBox: `0 0 ${w} ${h}`, class: "history", role: "img",
    "aria-label": `Open hours, last 14 days: ${dates.map((d, i) => `${d} ${values[i] === null ? "no data" : values[i].toFixed(1) + " h"}`).join(", ")}` });
  dates.forEach((date, i) => {
    const v = values[i];
    const x = i * bw + 2;
    const bh = v === null ? 0 : (v / top) * (base - 10);
    const met = v !== null && v >= goalH;
    const bar = svg("rect", { class: "bar", x, y: base - bh, width: bw - 4, height: bh,
      fill: met ? "#0a6b2f" : "#0b4f8a", "data-date": date, "data-open-h": v === null ? "" : v.toFixed(2) });
    bar.append(svg("title", {}, `${date}: ${v === null ? "no data" : v.toFixed(1) + " h open"}${met ? " (goal met)" : ""}`));
    s.append(bar);
    if (met) s.append(svg("text", { x: x + (bw - 4) / 2, y: base - bh - 2, "text-anchor": "middle" }, "✓"));
    const day = new Date(date + "T12:00:00Z").toLocaleDateString(undefined, { weekday: "narrow", timeZone: "UTC" });
    s.append(svg("text", { x: x + (bw - 4) / 2, y: base + 14, "text-anchor": "middle" }, day));
  });
  const gy = base - (goalH / top) * (base - 10);
  s.append(svg("line", { x1: 0, x2: w, y1: gy, y2: gy, stroke: "#111", "stroke-dasharray": "5 4", "stroke-width": 1.5 }));
  s.append(svg("text", { x: w - 2, y: gy - 3, "text-anchor": "end" }, `goal ${goalH} h`));
  return s;
}

function gauge(load, band) {
  const w = 300, max = Math.max(band ? band[1] * 1.5 : 150, load * 1.1, 50);
  const x = (v) => 10 + (Math.min(v, max) / max) * (w - 20);
  const s = svg("svg", { viewBox: `0 0 ${w} 64`, class: "gauge", role: "img", "data-load": load.toFixed(1),
    "aria-label": `Load ${load.toFixed(0)} newtons` });
  s.append(svg("rect", { x: 10, y: 14, width: w - 20, height: 22, fill: "#eee", stroke: "#222" }));
  if (band) {
    s.append(svg("rect", { class: "band", x: x(band[0]), y: 14, width: x(band[1]) - x(band[0]), height: 22,
      fill: "#cfe8d6", stroke: "#0a6b2f", "stroke-width": 2 }));
    s.append(svg("text", { x: (x(band[0]) + x(band[1])) / 2, y: 58, "text-anchor": "middle" },
      `target ${band[0]}–${band[1]} N`));
  }
  s.append(svg("rect", { class: "needle", x: x(load) - 3, y: 6, width: 6, height: 38, fill: "#111" }));
  return s;
}

function card(d, now) {
  const st = d.state || {};
  const c = el("article", { class: "card", "data-device": d.id });
  const online = d.online === true;
  const h = el("h2", {}, d.id);
  h.append(el("span", { class: `status ${online ? "online" : "offline"}` }, online ? "● Online" : "○ Offline"));
  c.append(h);
  c.append(el("p", { class: "seen" }, d.last_seen ? `Last heard from ${ago(now - d.last_seen)}` : "Not heard from yet"));
  if (!d.state) {
    c.append(el("p", {}, "No data from this device yet."));
    return c;
  }
  const [icon, words] = POSITION[st.position] || POSITION.unknown;
  let since = "";
  if (st.position_since && st.position !== "unknown") {
    // In the agent's own time: its clock may differ from this one (a Pi without a clock).
    const agentNow = Date.parse(st.time) / 1000 + (online && d.state_at ? now - d.state_at : 0);
    since = ` for ${duration(agentNow - Date.parse(st.position_since) / 1000)}`;
  }
  c.append(el("p", { class: "position", "data-position": st.position }, `${icon} ${words}${since}`));
  const today = st.today || {};
  const goalH = st.goal_h || 6;
  const openS = today.open_s || 0;
  const block = el("div", { class: "today" });
  block.append(ring(openS / (goalH * 3600), `${hours(openS)} of ${goalH} hours open today`));
  const numbers = el("div", { class: "numbers" });
  numbers.append(el("p", { class: "big open-today", "data-open-s": openS.toFixed(1) }, `Open today: ${hours(openS)} h`));
  numbers.append(el("p", {}, `Goal: ${goalH} h (${Math.round((openS / (goalH * 3600)) * 100)}%)`));
  numbers.append(el("p", { class: "worn-today" }, `Worn today: ${hours(today.worn_s || 0)} h`));
  block.append(numbers);
  c.append(block);

  const hist = el("section", { class: "week" });
  hist.append(el("h3", {}, "Open hours, last 14 days"));
  const todayDate = (st.time || new Date().toISOString()).slice(0, 10);
  hist.append(history({ ...d.days, [todayDate]: today }, todayDate, goalH));
  c.append(hist);

  const wb = el("section", { class: "wb" });
  wb.append(el("h3", {}, "Weight bearing"));
  const live = d.load && d.load.session && now - d.load.received < 3 && online;
  if (live) {
    const band = st.weight_bearing && st.weight_bearing.band_n;
    const where = d.load.in_band === true ? "✓ in the target band" :
      (band && d.load.load_n > band[1] ? "▲ over the maximum" : "▼ below the band");
    wb.append(el("p", { class: "load-text" }, `${d.load.load_n.toFixed(0)} N (${(d.load.load_n / 9.80665).toFixed(1)} kg) — ${where}`));
    wb.append(gauge(d.load.load_n, band));
  } else {
    wb.append(el("p", { class: "load-idle" }, "Not on the pad now."));
  }
  const w = today.weight_bearing || {};
  wb.append(el("p", { class: "wb-today" }, w.sessions ?
    `Today: ${w.sessions} session${w.sessions > 1 ? "s" : ""}, ${duration(w.total_s)} in all, ${duration(w.in_target_s)} in the band, mean ${w.mean_n.toFixed(0)} N, peak ${w.peak_n.toFixed(0)} N` :
    "No sessions today yet."));
  const sessions = (d.sessions || []).filter((s) => s.day === todayDate);
  if (sessions.length) {
    const ul = el("ul", { class: "sessions" });
    for (const s of sessions.slice(-5)) {
      ul.append(el("li", {}, `${s.time.slice(11, 16)}: ${duration(s.duration_s)}, mean ${s.mean_n.toFixed(0)} N, ${duration(s.in_target_s)} in the band`));
    }
    wb.append(ul);
  }
  c.append(wb);

  const vib = el("section", { class: "vibration" });
  vib.append(el("h3", {}, "Vibration therapy"));
  const therapy = st.therapy || {};
  vib.append(el("p", {}, `${therapy.running ? `Running now (${therapy.level}). ` : ""}Today: ${Math.round((today.vibration_s || 0) / 60)} min`));
  c.append(vib);

  const problems = el("section", { class: "problems" });
  const alerts = (d.alerts || []).filter((a) => a.time && a.time.slice(0, 10) === todayDate);
  if (alerts.length) {
    problems.append(el("h3", {}, "Alerts today"));
    const ul = el("ul", { class: "faults alerts" });
    for (const a of alerts) ul.append(el("li", {}, `⚠ ${a.time.slice(11, 16)} ${a.text}`));
    problems.append(ul);
  }
  problems.append(el("h3", {}, "Sensors"));
  if (st.faults && st.faults.length) {
    const ul = el("ul", { class: "faults" });
    for (const f of st.faults) ul.append(el("li", {}, `⚠ ${f.text}`));
    problems.append(ul);
  } else {
    problems.append(el("p", { class: "ok" }, "✓ All sensors working"));
  }
  c.append(problems);
  return c;
}

function render() {
  if (!fleet) return;
  const now = (Date.now() + offsetMs) / 1000;
  const main = document.getElementById("devices");
  const cards = fleet.devices.map((d) => card(d, now));
  if (!cards.length) cards.push(el("p", { class: "empty" }, "Waiting for devices…"));
  main.replaceChildren(...cards);
}

function connect() {
  const source = new EventSource("/events");
  const status = document.getElementById("connection");
  source.onopen = () => { status.textContent = "● Live"; };
  source.onmessage = (e) => {
    fleet = JSON.parse(e.data);
    offsetMs = fleet.now * 1000 - Date.now();
    render();
  };
  source.onerror = async () => {
    status.textContent = "○ Reconnecting…";
    const r = await fetch("/api/fleet", { credentials: "same-origin" }).catch(() => null);
    if (r && r.status === 401) location.href = "/login";
  };
}

connect();
setInterval(render, 10000);
