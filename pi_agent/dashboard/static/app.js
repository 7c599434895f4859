"use strict";
// The OpenPalm dashboard: draws each device's card from the fleet the server streams.
// It sends one thing: a request to start or stop a device's exercise session (POST
// /api/command); the card shows the session as the device then reports it. Text is
// always set with textContent; charts are SVG drawn here.
//
// The server has checked every message against the devices' schema; this page still
// reads every field defensively (obj, arr, num, str) and draws each card on its own, so
// that one device's odd data can never stop the others. A card is redrawn part by part,
// only where its content changed (keyboard focus stays put), and the live regions speak
// only when a meaning changes (offline, an alarm, the broker), never on a redraw.

const SVG = "http://www.w3.org/2000/svg";
const G = 9.80665;
const NB = "\u00a0";                 // a number never wraps away from its unit
const TICK_S = 5;                    // the server sends the fleet at least this often
const PAGE_LOST_S = 2 * TICK_S + 3;  // nothing for this long: this page has lost the dashboard

const page = {
  fleet: null, offsetMs: 0, heardAt: 0, link: "connecting", linkSince: Date.now(),
  meanings: new Map(), said: new Map(), selected: new Map(), brokerMeaning: null, linkMeaning: null,
  asking: new Map(),                 // device -> {command, at, error}: a request this page sent
};

// -- reading defensively ---------------------------------------------------------------------
const isObj = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const obj = (v) => (isObj(v) ? v : {});
const arr = (v) => (Array.isArray(v) ? v : []);
const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : null);
const str = (v) => (typeof v === "string" ? v : "");

// -- building elements ---------------------------------------------------------------------------
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v);
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

// -- words and numbers --------------------------------------------------------------------------
const hours = (s) => `${(s / 3600).toFixed(1)}${NB}h`;
const newtons = (n) => `${n.toFixed(0)}${NB}N (${(n / G).toFixed(1)}${NB}kg)`;

function duration(seconds) {
  seconds = Math.max(0, Math.round(seconds));
  const d = Math.floor(seconds / 86400), h = Math.floor((seconds % 86400) / 3600), m = Math.floor((seconds % 3600) / 60);
  if (d >= 2) return `${d}${NB}days`;
  if (d || h) return `${d * 24 + h}${NB}h${NB}${m}${NB}min`;
  if (m) return `${m}${NB}min`;
  return `${seconds}${NB}s`;
}

const span = (s) => (s < 120 ? `${Math.round(s)}${NB}s` : duration(s));   // 75 s, not "1 min"

function ago(seconds) {
  return seconds < 60 ? "less than a minute ago" : `${duration(seconds)} ago`;
}

const seconds = (iso) => { const t = Date.parse(str(iso)); return Number.isFinite(t) ? t / 1000 : null; };

// -- times: a monitor's as its own clock shows them ------------------------------------------------
// Every time on a card is the monitor's local time (its zone, which its state names; an older
// agent's: the offset of its state's time), 24-hour, with the day only when it is not the
// monitor's today. The page's own times (the header's) are in the browser's zone, 24-hour too.
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const two = (n) => String(n).padStart(2, "0");

function zoneOf(st) {
  let name = str(st.zone) || null;
  if (name) { try { new Intl.DateTimeFormat("en-GB", { timeZone: name }); } catch (e) { name = null; } }
  const m = /(?:([+-])(\d{2}):(\d{2})|Z)$/.exec(str(st.time));
  const offset = !m ? null : m[1] ? (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0;
  return { name, offset };
}

// [YYYY-MM-DD, HH:MM] of ``t``: seconds since the epoch, or a time as the monitor wrote it
// (its own local time, which is taken as written).
function localTime(t, zone) {
  if (typeof t === "string") {
    const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2})/.exec(t);
    if (m && seconds(t) !== null) return [m[1], `${m[2]}:${m[3]}`];
    return null;
  }
  if (zone && zone.name) {
    const p = Object.fromEntries(new Intl.DateTimeFormat("en-GB", { timeZone: zone.name, hourCycle: "h23",
      year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" })
      .formatToParts(new Date(t * 1000)).map((x) => [x.type, x.value]));
    return [`${p.year}-${p.month}-${p.day}`, `${p.hour}:${p.minute}`];
  }
  if (zone && zone.offset !== null) {
    const iso = new Date((t + zone.offset * 60) * 1000).toISOString();
    return [iso.slice(0, 10), iso.slice(11, 16)];
  }
  const d = new Date(t * 1000);
  return [`${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}`, `${two(d.getHours())}:${two(d.getMinutes())}`];
}

// "17:57" on the monitor's today (the date of its clock: ctx.day), "14 Apr 17:57" another
// day, "14 Apr 2025 17:57" another year.
function clock(t, ctx) {
  const at = localTime(t, ctx.zone), today = ctx.day || localTime(ctx.now, ctx.zone)[0];
  if (at === null) return "";
  if (today === at[0]) return at[1];
  const [y, m, d] = at[0].split("-").map(Number);
  const year = today.slice(0, 4) === at[0].slice(0, 4) ? "" : `${NB}${y}`;
  return `${d}${NB}${MONTHS[m - 1]}${year}${NB}${at[1]}`;
}

// "1 weight shift", "2 weight shifts", "0 weight shifts".
const count = (n, one, many) => `${n} ${n === 1 ? one : (many || `${one}s`)}`;

const POSITION = {
  open: ["✓", "Hand open", "Hand was open"], closed: ["✗", "Hand closed", "Hand was closed"],
  off: ["○", "Splint off", "Splint was off"], unknown: ["?", "Position not known", "Position was not known"],
};

const SENSOR = { fingers: "finger sensor", wrist: "wrist sensor", palm: "palm sensor",
                 pad_palm: "table pad (palm zone)", pad_fingers: "table pad (fingers zone)" };
const FAULT = {
  disconnected: "is disconnected: check that its plug is in",
  stuck: "gives no signal: it may be loose or damaged",
  i2c_error: "is not answering: restart the monitor, and call for help if it stays",
  adc_timeout: "is not answering: restart the monitor, and call for help if it stays",
  overload: "carries more than its load cell is rated for: the load is still measured",
};

const ALERT = {
  vibration_cut: "A vibration session was asked for longer than is safe, so it was shortened.",
  continuous_limit: "Vibration therapy paused: it had run as long as is safe in one go, and now needs a rest.",
  daily_limit: "Vibration therapy stopped: today's safe maximum is reached.",
  error: "Vibration therapy stopped because the monitor had a problem.",
  loop_stalled: "Vibration therapy stopped because the monitor stopped responding.",
};

function faultWords(f, lower = false) {
  const ch = str(f.channel), kind = str(f.kind);
  const name = SENSOR[ch] || str(f.text) || "a sensor";
  const what = FAULT[kind] ? `${lower ? "the" : "The"} ${name} ${FAULT[kind]}.` : `${str(f.text) || "A sensor is not working"}.`;
  const then = kind === "overload" ? "Lean on it less: much more weight can damage the pad."
             : ch.startsWith("pad") ? "Weight bearing is not measured until it is fixed."
                                    : "The hand's position cannot be known until it is fixed.";
  return `${what} ${then}`;
}

// -- the card's parts -------------------------------------------------------------------------------
const CONDITION = {
  online: ["●", "Online"], offline: ["○", "Offline"], silent: ["◌", "Not heard from"], unknown: ["?", "Not known"],
};

function part(key, tag, attrs, ...children) {
  return el(tag, { ...attrs, "data-part": key }, ...children);
}

function seenLine(d, ctx) {
  const last = num(d.last_seen), st = obj(d.state);
  const when = last !== null ? `${ago(ctx.now - last)} (${clock(last, ctx)})` : null;
  const dated = seconds(st.time);
  const known = when ? `Last seen ${when}.` : dated !== null
    ? `Last data dated ${clock(str(st.time), ctx)} by the monitor's own clock.` : "Nothing heard from it yet.";
  const c = d.condition;
  if (c === "online") {
    return part("seen", "p", { class: "seen" }, last !== null && ctx.now - last < 60 ? "Live: heard from just now."
      : `Live: last heard from ${when || "before the dashboard started"}.`);
  }
  let why;
  if (c === "offline") why = "Offline: the monitor is switched off or has lost its connection.";
  else if (c === "silent") why = `Not heard from for over ${span(num(ctx.limits.silent_after_s) || 0)}: the monitor may have stopped responding.`;
  else if (ctx.pageLost) why = "Not known: this page has lost the dashboard.";
  else why = `Not known: the dashboard has lost the broker.${d.status === "offline" ? " The monitor was offline before that." : ""}`;
  return part("seen", "p", { class: "seen stale-note" }, `${why} ${known} What follows is as it was then.`);
}

function alarmsPart(d, ctx) {
  const st = obj(d.state), today = obj(st.today), items = [];
  const live = d.condition === "online" && !ctx.pageLost;
  const asOf = live ? "" : "When last heard from: ";
  const problem = isObj(d.problem) ? d.problem : null;
  if (problem) {
    const at = num(problem.at);
    items.push(["unreadable", el("li", { class: "alarm unreadable" },
      `⚠ Data from this device could not be read${at !== null ? ` (${clock(at, ctx)})` : ""}. `,
      d.state ? "The card shows the last data that could be read. " : "",
      el("span", { class: "detail" }, `${str(problem.topic)}: ${str(problem.text)}`))]);
  }
  const load = live ? obj(d.load) : {};
  const n = num(load.load_n), band = arr(obj(st.weight_bearing).band_n).map(num);
  if (n !== null && band.length === 2 && band[1] !== null && n > band[1]) {
    items.push(["over", el("li", { class: "alarm over" },
      `▲ Too much weight on the hand: ${Math.round(n) > band[1] ? newtons(n) : `${n.toFixed(1)}${NB}N`}. ` +
      `The most for this hand is ${newtons(band[1])}.`)]);
  }
  const pressure = arr(d.alerts).map(obj).filter((a) => str(a.reason) === "skin_pressure" && str(a.time).slice(0, 10) === ctx.today);
  const pressureCount = Math.max(pressure.length, num(today.pressure_alerts) || 0);
  if (pressureCount) {
    const lastAt = pressure.length ? clock(str(pressure[pressure.length - 1].time), ctx) : "";
    items.push(["pressure", el("li", { class: "alarm pressure" },
      `⚠ High pressure under the palm${lastAt ? ` at ${lastAt}` : ""}` +
      `${pressureCount > 1 ? ` (${pressureCount} times today)` : ""}: check the skin and loosen the straps.`)]);
  }
  for (const f of arr(st.faults).map(obj)) {
    items.push([`fault:${str(f.channel)}`, el("li", { class: "alarm fault" }, `⚠ ${asOf}${faultWords(f, !!asOf)}`)]);
  }
  return { keys: items.map(([k]) => k),
           node: items.length ? part("alarms", "ul", { class: "alarms", "aria-label": "Alarms" }, ...items.map(([, li]) => li)) : null };
}

function liveLoadPart(d, st, ctx) {
  if (d.condition !== "online" || ctx.pageLost || !isObj(d.load)) return null;
  const n = num(d.load.load_n);
  if (n === null) return null;
  const band = arr(obj(st.weight_bearing).band_n).map(num);
  const hasBand = band.length === 2 && band[0] !== null && band[1] !== null;
  let where = "unknown";
  if (hasBand) where = n > band[1] ? "over" : n < band[0] ? "below" : "in";
  else if (typeof d.load.in_band === "boolean") where = d.load.in_band ? "in" : "out";
  const words = { over: "▲ over the maximum", below: "▼ below the target band", in: "✓ in the target band",
                  out: "outside the target band", unknown: "" }[where];
  return part("live-load", "section", { class: `live-load ${where}` },
    el("h3", {}, "On the pad now"),
    el("p", { class: `load-text ${where}`, "data-where": where }, `${newtons(n)}${words ? ` — ${words}` : ""}`),
    gauge(n, hasBand ? band : null), repsLine(st));
}

// The session's weight shifts so far, and today's against the daily goal (when one is set).
function repsLine(st) {
  const wb = obj(st.weight_bearing), reps = num(wb.reps);
  if (reps === null) return null;
  const goal = num(wb.reps_goal), today = num(obj(obj(st.today).weight_bearing).reps);
  const ofGoal = goal && today !== null ? ` (today ${today} of ${goal}${today >= goal ? ", goal met ✓" : ""})` : "";
  return el("p", { class: "reps", "data-reps": String(reps) }, `Weight shifts this session: ${reps}${ofGoal}`);
}

function gauge(load, band) {
  const w = 300, max = Math.max(band ? band[1] * 1.5 : 150, load * 1.1, 50);
  const x = (v) => 10 + (Math.min(Math.max(v, 0), max) / max) * (w - 20);
  const s = svg("svg", { viewBox: `0 0 ${w} 66`, class: "gauge", role: "img", "data-load": load.toFixed(1),
    "aria-label": `Load ${load.toFixed(0)} newtons${band ? `, target ${band[0]} to ${band[1]} newtons` : ""}` });
  s.append(svg("rect", { x: 10, y: 14, width: w - 20, height: 22, fill: "#eee", stroke: "#222" }));
  if (band) {
    s.append(svg("rect", { class: "band", x: x(band[0]), y: 14, width: x(band[1]) - x(band[0]), height: 22,
      fill: "#cfe8d6", stroke: "#0a6b2f", "stroke-width": 2 }));
    s.append(svg("text", { x: w / 2, y: 60, "text-anchor": "middle" },
      `target ${band[0]}–${band[1]}${NB}N (${(band[0] / G).toFixed(1)}–${(band[1] / G).toFixed(1)}${NB}kg)`));
  }
  const over = band && load > band[1];
  s.append(svg("rect", { class: "needle", x: x(load) - 3, y: 6, width: 6, height: 38, fill: over ? "#9b1c1c" : "#111" }));
  return s;
}

function positionPart(d, st, ctx, live) {
  const position = POSITION[st.position] ? st.position : "unknown";
  const [icon, now, was] = POSITION[position];
  let text = `${icon} ${live ? now : was}`;
  const since = seconds(st.position_since), at = seconds(st.time);
  if (position !== "unknown" && since !== null && at !== null) {
    // In the agent's own time: its clock may differ from the dashboard's (a Pi without a clock).
    const stateAt = num(d.state_at);
    const agentNow = at + (live && stateAt !== null ? ctx.now - stateAt : 0);
    text += ` for ${duration(agentNow - since)}`;
  }
  if (!live && at !== null) text += `, at ${clock(str(st.time), ctx)} (the monitor's clock)`;
  let why = null;
  if (position === "unknown") {
    const splintFault = arr(st.faults).some((f) => !str(obj(f).channel).startsWith("pad"));
    const readings = Object.values(obj(st.channels)).some((v) => num(v) !== null);
    why = splintFault ? "A sensor of the splint is not working (see above)."
        : readings ? "The readings do not fit open, closed or off." : "No readings from the splint yet.";
  }
  return part("position", "div", { class: "position-block" },
    el("p", { class: "position", "data-position": position }, text),
    why ? el("p", { class: "why" }, why) : null);
}

function nowPart(st, ctx, live) {
  const spasm = obj(st.spasm), pressure = obj(st.pressure), lines = [];
  const began = (iso) => { const t = clock(str(iso), ctx); return t ? ` (since ${t})` : ""; };
  if (spasm.active === true) {
    lines.push(el("p", { class: "spasm-now" }, live ? `⚡ Spasm now${began(spasm.since)}: the fingers are pulling ` +
      "against the splint." : "⚡ A spasm was going on when last heard from."));
  }
  if (pressure.high === true) {
    lines.push(el("p", { class: "pressure-now" }, (live ? "▲ High pressure under the palm now" : "▲ There was " +
      "high pressure under the palm when last heard from") + began(pressure.since) +
      ": if it lasts, check the skin and loosen the straps."));
  }
  return lines.length ? part("now", "div", { class: "now" }, ...lines) : null;
}

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

function todayPart(st, ctx, live) {
  const today = obj(st.today), goalH = num(st.goal_h) || 6;
  const openS = num(today.open_s) || 0, wornS = num(today.worn_s) || 0;
  const pct = Math.round((openS / (goalH * 3600)) * 100);
  const numbers = el("div", { class: "numbers" },
    el("p", { class: "big open-today", "data-open-s": openS.toFixed(1) }, `Open today: ${hours(openS)}`),
    el("p", {}, `Goal: ${goalH}${NB}h (${pct}%)`),
    el("p", { class: "worn-today" }, `Worn today: ${hours(wornS)}`));
  const spasms = num(today.spasms);
  if (spasms !== null) {
    numbers.append(el("p", { class: "spasms" }, `Spasms today: ${spasms}` +
      (num(today.spasm_s) ? ` (${duration(today.spasm_s)} in all)` : "")));
  }
  const alerts = num(today.pressure_alerts);
  if (alerts !== null) {
    const high = num(today.high_pressure_s);
    numbers.append(el("p", { class: "pressure-today" }, `Skin-pressure alerts today: ${alerts}` +
      (high ? ` (high pressure ${duration(high)} in all)` : "")));
  }
  const at = seconds(st.time);
  return part("today", "section", { class: "today-block" },
    el("h3", {}, live || at === null ? "Today" : `Today, as of ${clock(str(st.time), ctx)}`),
    el("div", { class: "today" }, ring(openS / (goalH * 3600), `${hours(openS)} of ${goalH} hours open today`), numbers));
}

function lastDays(today, n) {
  const out = [];
  const d = Date.parse(`${today}T12:00:00Z`);
  for (let i = n - 1; i >= 0; i--) out.push(new Date(d - i * 86400000).toISOString().slice(0, 10));
  return out;
}

function dayName(date, style = "long") {
  return new Date(`${date}T12:00:00Z`).toLocaleDateString([], {
    weekday: style, day: "numeric", month: style, timeZone: "UTC" });
}

function dayDetail(date, rec, goalH, today) {
  const name = `${dayName(date)}${date === today ? " (today)" : ""}`;
  if (!rec) return `${name}: no data (the monitor was off or not reporting).`;
  const open = num(rec.open_s) / 3600;
  let text = `${name}: ${open.toFixed(1)}${NB}h open${open >= goalH ? ", goal met" : `, goal ${goalH}${NB}h`}`;
  if (num(rec.worn_s) !== null) text += `, worn ${hours(rec.worn_s)}`;
  if (num(rec.spasms) !== null) text += `, ${rec.spasms} spasm${rec.spasms === 1 ? "" : "s"}`;
  if (num(rec.extension_reps) !== null) text += `, ${count(rec.extension_reps, "extension repetition")}`;
  return `${text}.`;
}

function chartPart(d, st, ctx) {
  const days = { ...obj(d.days) };
  const today = ctx.deviceToday(st);
  if (isObj(st.today) && num(st.today.open_s) !== null) days[today] = st.today;
  const goalH = num(st.goal_h) || 6;
  const dates = lastDays(today, 14);
  const recs = dates.map((date) => (isObj(days[date]) && num(days[date].open_s) !== null ? days[date] : null));
  const values = recs.map((r) => (r ? r.open_s / 3600 : null));
  const spasms = recs.map((r) => (r && num(r.spasms) !== null ? r.spasms : null));
  const hasSpasms = spasms.some((v) => v !== null);
  const W = 340, top = 12, base = 132, left = 38, right = hasSpasms ? 28 : 6, H = 172;
  const high = Math.max(goalH * 1.25, ...values.filter((v) => v !== null), 1);
  const step = high <= 8 ? 2 : high <= 16 ? 4 : 6;
  const topV = Math.ceil(high / step) * step;
  const y = (v) => base - (v / topV) * (base - top);
  const slot = (W - left - right) / 14;
  const selected = page.selected.get(d.id);
  const label = `Hours open, last 14 days, goal ${goalH} hours: ` +
    dates.map((date, i) => `${dayName(date)} ${values[i] === null ? "no data" : `${values[i].toFixed(1)} hours`}` +
      (spasms[i] !== null ? `, ${spasms[i]} spasm${spasms[i] === 1 ? "" : "s"}` : "")).join("; ");
  const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "history", role: "img", tabindex: "0", "data-focus": "chart",
                         "data-device": d.id, "aria-label": label });
  for (let v = 0; v <= topV; v += step) {
    s.append(svg("line", { class: "grid", x1: left, x2: W - right, y1: y(v), y2: y(v) }));
    s.append(svg("text", { class: "scale", x: left - 5, y: y(v) + 5, "text-anchor": "end" }, `${v}${NB}h`));
  }
  dates.forEach((date, i) => {
    const v = values[i], x = left + i * slot + 2, w = slot - 4, met = v !== null && v >= goalH;
    const g = svg("g", { class: `day${v === null ? " missing" : ""}${date === selected ? " selected" : ""}`,
                         "data-date": date, "data-open-h": v === null ? "" : v.toFixed(2) });
    g.append(svg("title", {}, dayDetail(date, recs[i], goalH, today)));
    g.append(svg("rect", { class: "hit", x: x - 2, y: top, width: slot, height: H - top, fill: "transparent" }));
    if (v === null) {
      g.append(svg("rect", { class: "bar missing", x, y: base - 22, width: w, height: 22, fill: "none",
                             stroke: "#6b6b6b", "stroke-dasharray": "3 3", "stroke-width": 1.5 }));
      g.append(svg("text", { class: "nodata", x: x + w / 2, y: base - 6, "text-anchor": "middle" }, "?"));
    } else {
      const h = Math.max(2, base - y(v));
      g.append(svg("rect", { class: `bar${met ? " met" : ""}`, x, y: base - h, width: w, height: h,
                             fill: met ? "#0a6b2f" : "#0b4f8a" }));
      if (met) g.append(svg("text", { class: "tick", x: x + w / 2, y: base - h - 4, "text-anchor": "middle" }, "✓"));
    }
    g.append(svg("text", { class: `date${date === today ? " today" : ""}`, x: x + w / 2, y: base + 17,
                           "text-anchor": "middle" }, String(Number(date.slice(8)))));
    if (i === 0 || date.slice(8) === "01") {
      g.append(svg("text", { class: "month", x: x + w / 2, y: base + 35, "text-anchor": i === 0 ? "start" : "middle" },
        new Date(`${date}T12:00:00Z`).toLocaleDateString([], { month: "short", timeZone: "UTC" })));
    }
    if (date === selected) {
      g.append(svg("rect", { class: "selection", x: x - 2, y: top - 4, width: slot, height: base - top + 26,
                             fill: "none", stroke: "#e8a300", "stroke-width": 3 }));
    }
    s.append(g);
  });
  s.append(svg("line", { class: "goal", x1: left, x2: W - right, y1: y(goalH), y2: y(goalH), stroke: "#111",
                         "stroke-dasharray": "6 4", "stroke-width": 2 }));
  if (hasSpasms) spasmLine(s, spasms, dates, { W, top, base, left, right, slot });
  const idx = dates.indexOf(selected);
  const detail = idx >= 0 ? dayDetail(selected, recs[idx], goalH, today) : "Tap or point at a day for its details.";
  return part("chart", "section", { class: "week" },
    el("h3", {}, hasSpasms ? "Hours open and spasms, last 14 days" : "Hours open, last 14 days"), s,
    el("p", { class: "legend" }, el("span", { class: "key met" }, "■"), " goal met ",
       el("span", { class: "key below" }, "■"), " below the goal ", el("span", { class: "key missing" }, "▭"), " no data ",
       el("span", { class: "key goal" }, "┅"), ` goal ${goalH}${NB}h`,
       hasSpasms ? el("span", { class: "key spasm" }, " ─●─") : null, hasSpasms ? ` spasms a day (right scale)` : null),
    el("p", { class: "chart-detail" }, detail));
}

// The day's spasms as a line over the bars, on a scale of its own (right, in whole
// spasms); a day without the count breaks the line. The line lets taps through to the
// day under it.
function spasmLine(s, spasms, dates, box) {
  const { W, top, base, left, right, slot } = box;
  const most = Math.max(...spasms.filter((v) => v !== null));
  const topS = Math.max(4, Math.ceil(most / 4) * 4);
  const y = (v) => base - (v / topS) * (base - top);
  for (const v of [0, topS / 2, topS]) {
    s.append(svg("text", { class: "scale spasm-scale", x: W - right + 4, y: y(v) + 5, "text-anchor": "start" }, String(v)));
  }
  const x = (i) => left + i * slot + slot / 2;
  const line = svg("g", { class: "spasms", "pointer-events": "none" }), points = [];
  let run = [];
  const flush = () => {
    if (run.length > 1) {
      line.append(svg("polyline", { class: "spasm-line", points: run.join(" "), fill: "none", stroke: "#9b1c1c",
                                    "stroke-width": 2.5 }));
    }
    run = [];
  };
  spasms.forEach((v, i) => {
    if (v === null) { flush(); return; }
    run.push(`${x(i).toFixed(1)},${y(v).toFixed(1)}`);
    s.querySelector(`g.day[data-date="${dates[i]}"]`).setAttribute("data-spasms", String(v));
    points.push(svg("circle", { class: "spasm-point", "data-date": dates[i], cx: x(i), cy: y(v), r: 4.5,
                                fill: "#9b1c1c", stroke: "#fff", "stroke-width": 1.5 }));
  });
  flush();
  line.append(...points);
  s.append(line);
}

// -- exercise: the session's live count, today's against the goal, the 14 days, start/stop ---------
const ASK_WORDS = { exercise_start: "start", exercise_stop: "stop" };
const ASK_WAIT_MS = 15000;

function exercisePart(d, st, ctx, live) {
  const ex = obj(st.exercise), today = obj(st.today);
  const reps = num(today.extension_reps) ?? num(ex.today_reps) ?? 0;
  const goal = num(ex.goal_reps), exerciseS = num(today.exercise_s) || 0;
  const active = ex.active === true;
  const section = part("exercise", "section", { class: `exercise${active ? " running" : ""}` },
    el("h3", {}, "Finger-extension exercise"));
  if (active) {
    const n = num(ex.reps) ?? 0, until = clock(str(ex.until), ctx);
    const said = count(n, "extension repetition");
    section.append(el("p", { class: "exercise-live", "data-reps": String(n) },
      live ? `Session running: ${said}` : `A session was running when last heard from: ${said}`),
      live && until ? el("p", { class: "exercise-until" }, `Ends by itself at ${until}.`) : null);
  }
  const words = `Today: ${count(reps, "extension repetition")}` +
    (goal ? ` of ${goal} (${Math.round((100 * reps) / goal)}%)` : "") + `, ${duration(exerciseS)} of exercise.`;
  const text = el("p", { class: "exercise-today", "data-reps": String(reps) }, words);
  section.append(goal ? el("div", { class: "today" }, ring(reps / goal, `${reps} of ${goal} extension repetitions today`), text) : text);
  section.append(exerciseHistory(d, st, ctx, goal),
    el("p", { class: "legend" }, `Extension repetitions a day, last 14 days; – no data${goal ? `; ┅ goal ${goal}` : ""}.`));
  // A request waits until the monitor answers it or its state shows it done (at most ASK_WAIT_MS).
  const asking = page.asking.get(d.id), asked = obj(d.asked);
  const answered = str(asked.status) !== "" && asking && str(asked.command) === asking.command;
  const waiting = asking && !asking.error && !(answered && asked.status === "error") &&
    (!asking.done || (Date.now() - asking.at < ASK_WAIT_MS && (asking.command === "exercise_start") !== active));
  const command = active ? "exercise_stop" : "exercise_start";
  section.append(el("button", { type: "button", class: "exercise-toggle", "data-focus": "exercise",
    "data-device": d.id, "data-command": command, disabled: !live || waiting ? "" : null },
    active ? "■ Stop the exercise session" : "▶ Start an exercise session"));
  let note = null;
  if (asking && asking.error) note = `⚠ Could not ${ASK_WORDS[asking.command]} the session: ${asking.error}`;
  else if (answered && asked.status === "error") {
    note = `⚠ The monitor could not ${ASK_WORDS[asking.command]} the session: ${str(asked.error)}`;
  } else if (waiting) note = `Asking the monitor to ${ASK_WORDS[asking.command]} the session…`;
  else if (!live) note = "The monitor is not online: a session can be started or stopped once it is.";
  if (note) section.append(el("p", { class: `exercise-note${note.startsWith("⚠") ? " bad" : ""}`, role: "status" }, note));
  return section;
}

function exerciseHistory(d, st, ctx, goal) {
  const days = { ...obj(d.days) };
  const today = ctx.deviceToday(st);
  if (isObj(st.today) && num(st.today.open_s) !== null) days[today] = st.today;
  const dates = lastDays(today, 14);
  const values = dates.map((date) => (isObj(days[date]) ? num(days[date].extension_reps) : null));
  const W = 340, top = 16, base = 70, left = 6, right = 6, H = 88;
  const high = Math.max(goal || 0, ...values.filter((v) => v !== null), 1);
  const slot = (W - left - right) / 14;
  const y = (v) => base - (v / high) * (base - top);
  const label = "Extension repetitions, last 14 days: " +
    dates.map((date, i) => `${dayName(date)} ${values[i] === null ? "no data" : values[i]}`).join("; ");
  const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "exercise-history", role: "img", "aria-label": label });
  dates.forEach((date, i) => {
    const v = values[i], x = left + i * slot + 2, w = slot - 4;
    const g = svg("g", { class: `day${v === null ? " missing" : ""}`, "data-date": date, "data-reps": v === null ? "" : String(v) });
    g.append(svg("title", {}, `${dayName(date)}: ${v === null ? "no data" : count(v, "extension repetition")}`));
    if (v !== null) {
      const h = v ? Math.max(2, base - y(v)) : 0;
      g.append(svg("rect", { class: `bar${goal && v >= goal ? " met" : ""}`, x, y: base - h, width: w, height: h,
                             fill: goal && v >= goal ? "#0a6b2f" : "#0b4f8a" }));
      g.append(svg("text", { class: "count", x: x + w / 2, y: base - h - 3, "text-anchor": "middle" }, String(v)));
    } else {
      g.append(svg("text", { class: "nodata", x: x + w / 2, y: base - 3, "text-anchor": "middle" }, "–"));
    }
    g.append(svg("text", { class: `date${date === today ? " today" : ""}`, x: x + w / 2, y: base + 15,
                           "text-anchor": "middle" }, String(Number(date.slice(8)))));
    s.append(g);
  });
  if (goal) s.append(svg("line", { class: "goal", x1: left, x2: W - right, y1: y(goal), y2: y(goal), stroke: "#111",
                                   "stroke-dasharray": "6 4", "stroke-width": 1.5 }));
  return s;
}

async function ask(device, command) {
  page.asking.set(device, { command, at: Date.now(), error: null, done: false });
  safeRender();
  let error = null;
  try {
    const r = await fetch("/api/command", { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify({ device, command }) });
    if (r.status === 401) { location.href = "/login"; return; }
    if (r.status !== 202) error = str(obj(await r.json().catch(() => ({}))).error) || `the dashboard answered ${r.status}`;
  } catch (e) {
    error = "this page could not reach the dashboard";
  }
  page.asking.set(device, { command, at: Date.now(), error, done: error === null });
  safeRender();
}

function weightBearingPart(d, st, ctx) {
  const w = obj(obj(st.today).weight_bearing);
  const total = num(w.sessions) || 0;
  const section = part("wb", "section", { class: "wb" }, el("h3", {}, "Weight bearing today"));
  if (!total) {
    section.append(el("p", { class: "wb-today" }, "No sessions today yet."));
  } else {
    const mean = num(w.mean_n), peak = num(w.peak_n);
    section.append(el("p", { class: "wb-today" },
      `${count(total, "session")}, ${duration(num(w.total_s) || 0)} in all, ` +
      `${duration(num(w.in_target_s) || 0)} in the target band` +
      (mean !== null ? `; mean ${newtons(mean)}` : "") + (peak !== null ? `, peak ${newtons(peak)}` : "") + "."));
    if (num(w.reps) !== null) section.append(el("p", { class: "wb-reps" }, `Weight shifts today: ${w.reps}`));
  }
  const sessions = arr(d.sessions).map(obj).filter((s) => str(s.day) === ctx.deviceToday(st));
  if (sessions.length) {
    const ul = el("ul", { class: "sessions" });
    for (const s of sessions.slice(-5)) {
      const mean = num(s.mean_n);
      ul.append(el("li", {}, `${clock(str(s.time), ctx)}: ${duration(num(s.duration_s) || 0)}` +
        (mean !== null ? `, mean ${newtons(mean)}` : "") + `, ${duration(num(s.in_target_s) || 0)} in the band` +
        (num(s.reps) !== null ? `, ${count(s.reps, "weight shift")}` : "")));
    }
    section.append(ul);
  }
  return section;
}

function vibrationPart(st, ctx, live) {
  const therapy = obj(st.therapy), minutes = Math.round((num(obj(st.today).vibration_s) || 0) / 60);
  let now = "";
  if (therapy.running === true) {
    const until = clock(str(therapy.until), ctx);
    now = live ? `Running now (${str(therapy.level)})${until ? ` until ${until}` : ""}. `
               : "It was running when last heard from. ";
  }
  const unseen = Math.round((num(obj(st.today).vibration_unconfirmed_s) || 0) / 60);
  return part("vibration", "section", { class: "vibration" }, el("h3", {}, "Vibration therapy"),
    el("p", {}, `${now}Today: ${minutes}${NB}min.` + (unseen > 0 ? ` ${unseen}${NB}min of it unconfirmed: ` +
      "a therapy was interrupted and counts to its planned end, as the daily limit must assume." : "")));
}

function noticesPart(d, ctx) {
  const alerts = arr(d.alerts).map(obj).filter((a) => str(a.time).slice(0, 10) === ctx.today
                                                    && str(a.reason) !== "skin_pressure");
  if (!alerts.length) return null;
  return part("notices", "section", { class: "notices-today" }, el("h3", {}, "Messages today"),
    el("ul", { class: "alerts" }, ...alerts.map((a) =>
      el("li", {}, `${clock(str(a.time), ctx)} ${ALERT[str(a.reason)] || str(a.text)}`))));
}

function sensorsPart(st, ctx, live) {
  const faults = arr(st.faults);
  const at = clock(str(st.time), ctx);
  const text = faults.length
    ? `${faults.length === 1 ? "One sensor is" : `${faults.length} sensors are`} not working (see above).`
    : live ? "✓ All sensors working." : `All sensors were working${at ? ` at ${at}` : ""}.`;
  return part("sensors", "section", { class: "sensors" }, el("h3", {}, "Sensors"),
    el("p", { class: faults.length ? "bad" : live ? "ok" : "" }, text));
}

function card(d, ctx) {
  const st = obj(d.state);
  const live = d.condition === "online" && !ctx.pageLost;
  const [icon, words] = CONDITION[d.condition] || CONDITION.unknown;
  const parts = [part("head", "h2", {}, el("span", { class: "name" }, d.id),
                      el("span", { class: `status ${d.condition}`, "data-condition": d.condition }, `${icon} ${words}`)),
                 seenLine(d, ctx)];
  const alarms = alarmsPart(d, ctx);
  if (alarms.node) parts.push(alarms.node);
  if (!d.state) {
    parts.push(part("empty", "p", { class: "nodata-yet" }, "No readable data from this device yet."));
    return { parts, alarms: alarms.keys, live };
  }
  const liveLoad = liveLoadPart(d, st, ctx);
  if (liveLoad) parts.push(liveLoad);
  parts.push(positionPart(d, st, ctx, live));
  const now = nowPart(st, ctx, live);
  if (now) parts.push(now);
  parts.push(todayPart(st, ctx, live), chartPart(d, st, ctx));
  if (isObj(st.exercise)) parts.push(exercisePart(d, st, ctx, live));      // agents that count exercise
  parts.push(weightBearingPart(d, st, ctx), vibrationPart(st, ctx, live));
  const notices = noticesPart(d, ctx);
  if (notices) parts.push(notices);
  parts.push(sensorsPart(st, ctx, live), reportPart(d));
  return { parts, alarms: alarms.keys, live };
}

// The therapist's report of the days this dashboard has of the device (built by the server).
function reportPart(d) {
  const link = (format, text) => el("a", { class: `download ${format}`, download: "", "data-focus": `report-${format}`,
    href: `/api/report?device=${encodeURIComponent(d.id)}&format=${format}` }, text);
  return part("report", "p", { class: "report" }, link("html", "⤓ Therapist's report"), link("csv", "⤓ Days as CSV"));
}

// -- placing cards without disturbing what did not change ---------------------------------------
function syncCard(article, parts) {
  const active = document.activeElement;
  const focusKey = article.contains(active) && active.getAttribute ? active.getAttribute("data-focus") : null;
  const oldKeys = [...article.children].map((c) => c.getAttribute("data-part")).join("|");
  const newKeys = parts.map((p) => p.getAttribute("data-part")).join("|");
  if (oldKeys !== newKeys) {
    article.replaceChildren(...parts);
  } else {
    parts.forEach((p, i) => { const cur = article.children[i]; if (!cur.isEqualNode(p)) cur.replaceWith(p); });
  }
  if (focusKey && !article.contains(document.activeElement)) {
    const target = article.querySelector(`[data-focus="${focusKey}"]`);
    if (target) target.focus({ preventScroll: true });
  }
}

function setAttrs(node, attrs) {
  for (const [k, v] of Object.entries(attrs)) if (node.getAttribute(k) !== v) node.setAttribute(k, v);
}

function announce(id, text) {
  const region = document.getElementById(id);
  region.textContent = text;
}

function alarmWords(key) {
  const words = { over: "too much weight on the hand", pressure: "high pressure under the palm: check the skin",
                  unreadable: "its data could not be read" };
  return words[key] || (key.startsWith("fault:") ? `the ${SENSOR[key.slice(6)] || "sensor"} is not working` : key);
}

// With several monitors, every alarm is also listed at the top of the page (a phone
// shows it without scrolling), each a link to its card.
function alarmSummary(list) {
  const box = document.getElementById("alarm-summary");
  const items = list.length < 2 ? [] : list.flatMap(({ id, alarms, live }) => alarms.map((a) =>
    el("li", {}, el("a", { href: `#device-${id}` }, `⚠ ${id}: ${alarmWords(a)}${live ? "" : " (as last heard)"}`))));
  const node = items.length ? el("ul", { class: "alarm-summary", "aria-label": "Alarms on all monitors" }, ...items) : null;
  const current = box.firstElementChild;
  if (!node) { if (current) box.replaceChildren(); } else if (!current || !current.isEqualNode(node)) box.replaceChildren(node);
}

function meaningOf(d, built) {
  return `${d.condition}|${built.alarms.join(",")}`;
}

function speakChanges(d, built, ctx) {
  const before = page.meanings.get(d.id);
  const meaning = meaningOf(d, built);
  page.meanings.set(d.id, meaning);
  if (before === undefined || before === meaning || ctx.pageLost) return;
  const [was, wasAlarms] = before.split("|");
  const news = built.alarms.filter((a) => !wasAlarms.split(",").includes(a));
  if (news.length) {
    announce("announce-alarm", `${d.id}: ${news.map(alarmWords).join("; ")}.`);
  }
  // Out of 'unknown' (the broker is back), the broker's own announcement says it for all.
  if (was !== d.condition && d.condition !== "unknown" && !(was === "unknown" && d.condition === "online")) {
    const text = { online: "is online again", offline: "is offline", silent: "has not been heard from" }[d.condition];
    if (text) announce("announce", `${d.id} ${text}.`);
  }
}

// -- the page ----------------------------------------------------------------------------------
function linkParts(fleet, ctx) {
  const conn = document.getElementById("connection");
  const pageText = ctx.pageLost ? `○ Page offline since ${clock(page.linkSince / 1000, ctx)}` : "● Live";
  if (conn.textContent !== pageText) conn.textContent = pageText;
  setAttrs(conn, { "data-state": ctx.pageLost ? "lost" : "live" });
  const broker = obj(fleet.broker), state = str(broker.state), address = str(broker.address) || "the broker";
  const since = num(broker.since);
  const b = document.getElementById("broker");
  const short = { connected: "● Broker connected", lost: "⚠ Broker lost", connecting: "⚠ No broker",
                  refused: "⚠ Broker refused" }[state] || "";
  if (b.textContent !== short) b.textContent = short;
  setAttrs(b, { "data-state": state || "unknown" });
  const notices = document.getElementById("broker-notice");
  let text = "";
  const when = since !== null ? `${clock(since, ctx)} (${ago(ctx.now - since)})` : "";
  if (ctx.pageLost) {
    text = `⚠ This page has lost its connection to the dashboard since ${clock(page.linkSince / 1000, ctx)}; ` +
      "trying again. Nothing below is current.";
  } else if (state === "lost") {
    text = `⚠ The dashboard lost its connection to the message broker (${address}) at ${when}; trying again. ` +
      "The cards show each monitor as it was last heard from: this does not mean the monitors are off.";
  } else if (state === "connecting") {
    text = `⚠ The dashboard has never reached the message broker at ${address} (trying since ${when}). ` +
      "Is the broker running, and is mqtt.broker right?";
  } else if (state === "refused") {
    text = `⚠ The message broker at ${address} refused the dashboard (${str(broker.error)}). ` +
      "Check mqtt.username and the password.";
  }
  const node = text ? el("p", { class: "broker-notice", "data-state": ctx.pageLost ? "page-lost" : state }, text) : null;
  const current = notices.firstElementChild;
  if (!node) { if (current) notices.replaceChildren(); } else if (!current || !current.isEqualNode(node)) notices.replaceChildren(node);
  const meaning = ctx.pageLost ? "page-lost" : state;
  if (page.brokerMeaning !== null && page.brokerMeaning !== meaning) {
    announce("announce", { "page-lost": "This page has lost the dashboard.", lost: "The dashboard has lost the message broker.",
                           connected: "The dashboard is connected to the message broker again.",
                           connecting: "The dashboard cannot reach the message broker.",
                           refused: "The message broker refused the dashboard." }[meaning] || "");
  }
  page.brokerMeaning = meaning;
}

function about(fleet) {
  const limits = obj(fleet.limits), node = document.getElementById("about");
  const off = num(limits.offline_after_s), silent = num(limits.silent_after_s);
  if (off === null || silent === null) return;
  const text = `How quickly a stopped monitor shows here: one that is switched off or loses its network is ` +
    `marked offline by the broker after about ${span(off)} (1.5 × its keep-alive of ${span(num(limits.keepalive_s) || 0)}); ` +
    `one that stays connected but stops sending is marked "not heard from" after ${span(silent)} ` +
    `(2.5 × its heartbeat of ${span(num(limits.heartbeat_s) || 0)}). These assume the monitors use the same ` +
    "mqtt.keepalive_s and mqtt.heartbeat_s as this dashboard.";
  if (node.textContent !== text) node.textContent = text;
}

function render() {
  const fleet = page.fleet;
  if (!fleet) return;
  const now = (Date.now() + page.offsetMs) / 1000;
  const pageLost = page.link !== "live";
  const ctx = {
    now, pageLost, limits: obj(fleet.limits), zone: null, day: null,   // the card's monitor's zone and date (null: the page's)
    today: new Date(now * 1000).toISOString().slice(0, 10),
    deviceToday: (st) => {                 // the device's local day, from its own clock
      const date = str(st.time).slice(0, 10);
      return /^\d{4}-\d{2}-\d{2}$/.test(date) && Number.isFinite(Date.parse(`${date}T12:00:00Z`))
        ? date : new Date(now * 1000).toISOString().slice(0, 10);
    },
  };
  try { linkParts(fleet, ctx); about(fleet); } catch (e) { console.warn("the header could not be drawn", e); }
  const main = document.getElementById("devices");
  const existing = new Map([...main.querySelectorAll(":scope > article.card")].map((a) => [a.getAttribute("data-device"), a]));
  const order = [], summary = [];
  arr(fleet.devices).forEach((raw, index) => {
    // Each device on its own: whatever its data, an error here marks its card only.
    let id = `device ${index + 1}`, d = null, built;
    try { id = str(obj(raw).id) || id; } catch (e) { /* keep the placeholder */ }
    try {
      d = { ...obj(raw), id };
      d.condition = pageLost || !CONDITION[d.condition] ? "unknown" : d.condition;
      ctx.today = ctx.deviceToday(obj(d.state));
      ctx.zone = zoneOf(obj(d.state));
      ctx.day = (localTime(str(obj(d.state).time), null) || [null])[0];
      built = card(d, ctx);
    } catch (e) {
      console.warn(`the card of ${id} could not be drawn`, e);
      d = { id, condition: "unknown" };
      built = { parts: [part("head", "h2", {}, el("span", { class: "name" }, id)),
                        part("broken", "p", { class: "alarm unreadable" }, "⚠ Data from this device could not be shown.")],
                alarms: ["unreadable"], live: false };
    }
    let article = existing.get(id);
    if (!article) article = el("article", { class: "card", "data-device": id, id: `device-${id}` });
    existing.delete(id);
    setAttrs(article, { class: `card ${built.live ? "live" : "stale"}${built.alarms.length ? " alarmed" : ""}`,
                        "data-condition": d.condition, "aria-label": `Monitor ${id}` });
    syncCard(article, built.parts);
    speakChanges(d, built, ctx);
    order.push(article);
    summary.push({ id, alarms: built.alarms, live: built.live });
  });
  try { alarmSummary(summary); } catch (e) { console.warn("the alarm summary could not be drawn", e); }
  for (const gone of existing.values()) gone.remove();
  const placeholder = main.querySelector(":scope > p.empty");
  if (!order.length) {
    if (!placeholder) main.replaceChildren(el("p", { class: "empty" }, "Waiting for devices…"));
    return;
  }
  if (placeholder) placeholder.remove();
  order.forEach((article, i) => { if (main.children[i] !== article) main.insertBefore(article, main.children[i] || null); });
}

function safeRender() {
  try { render(); } catch (e) { console.warn("the page could not be drawn", e); }
}

document.addEventListener("click", (e) => {
  const button = e.target instanceof Element ? e.target.closest("button.exercise-toggle") : null;
  if (!button || button.disabled) return;
  ask(button.getAttribute("data-device"), button.getAttribute("data-command"));
});

// -- choosing a day on the chart: tap, click, or arrow keys on the focused chart ----------------
document.addEventListener("click", (e) => {
  const day = e.target instanceof Element ? e.target.closest("svg.history g.day") : null;
  if (!day) return;
  const chartEl = day.closest("svg.history");
  page.selected.set(chartEl.getAttribute("data-device"), day.getAttribute("data-date"));
  safeRender();
});

document.addEventListener("keydown", (e) => {
  const chartEl = e.target instanceof Element ? e.target.closest("svg.history") : null;
  if (!chartEl || !["ArrowLeft", "ArrowRight", "Home", "End"].includes(e.key)) return;
  const dates = [...chartEl.querySelectorAll("g.day")].map((g) => g.getAttribute("data-date"));
  const device = chartEl.getAttribute("data-device");
  let i = dates.indexOf(page.selected.get(device));
  if (i < 0) i = dates.length;
  i = { ArrowLeft: i - 1, ArrowRight: i + 1, Home: 0, End: dates.length - 1 }[e.key];
  page.selected.set(device, dates[Math.max(0, Math.min(dates.length - 1, i))]);
  e.preventDefault();
  safeRender();
});

// -- the stream ----------------------------------------------------------------------------------
function setLink(state) {
  if (page.link !== state) { page.link = state; page.linkSince = Date.now(); }
}

function connect() {
  const source = new EventSource("/events");
  source.onmessage = (e) => {
    let fleet;
    try { fleet = JSON.parse(e.data); } catch (err) { console.warn("unreadable data from the dashboard", err); return; }
    if (!isObj(fleet)) return;
    page.fleet = fleet;
    page.heardAt = Date.now();
    if (num(fleet.now) !== null) page.offsetMs = fleet.now * 1000 - Date.now();
    setLink("live");
    safeRender();
  };
  source.onerror = async () => {
    setLink("lost");
    safeRender();
    const r = await fetch("/api/fleet", { credentials: "same-origin" }).catch(() => null);
    if (r && r.status === 401) location.href = "/login";
  };
}

setInterval(() => {
  if (page.link === "live" && Date.now() - page.heardAt > PAGE_LOST_S * 1000) setLink("lost");
  safeRender();
}, 1000);
connect();
