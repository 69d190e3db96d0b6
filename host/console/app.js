// The openqq console: plain JavaScript, no framework, no build step.
// Pages are hash routes (#/overview, #/bots, #/trace, #/chat, #/logs); each
// page has enter() and leave(), and leave() stops its timers and streams.
// Everything comes from the gateway's admin routes (and /sim/* for the chat
// simulator on sim; on onebot the chat page runs /admin/dry-run); a route this gateway lacks shows "not available" instead of
// breaking the page.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);

/** An element with attributes and children (strings become text). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

class NotAvailable extends Error {}

/** A JSON admin call. A 403 means the login ended: back to the login page. */
async function api(path, opts = {}) {
  const res = await fetch(path, { credentials: "same-origin", ...opts });
  if (res.status === 403 && path.startsWith("/admin")) {
    location.reload();
    throw new Error("forbidden");
  }
  if (res.status === 404 || res.status === 405) throw new NotAvailable(path);
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.json();
}

function post(path, body) {
  const opts = { method: "POST" };
  if (body !== undefined) {
    opts.headers = { "content-type": "application/json" };
    opts.body = JSON.stringify(body);
  }
  return api(path, opts);
}

function unavailable(el, what) {
  el.replaceChildren(h("div", { class: "notice" }, `${what} is not available in this gateway build.`));
}

const pad = (n) => String(n).padStart(2, "0");
function clock(ms) {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
function duration(secs) {
  const d = Math.floor(secs / 86400), hh = Math.floor((secs % 86400) / 3600);
  const m = Math.floor((secs % 3600) / 60), s = secs % 60;
  if (d) return `${d}d ${hh}h ${m}m`;
  if (hh) return `${hh}h ${m}m`;
  return m ? `${m}m ${s}s` : `${s}s`;
}
function micros(us) {
  if (us === null || us === undefined) return "–";
  return us >= 1000 ? `${(us / 1000).toFixed(1)} ms` : `${Math.round(us)} µs`;
}
const rate = (v) => (v < 10 ? v.toFixed(2) : v.toFixed(0));

/** Contacts, read once per page visit: names for numbers. */
let contactsCache = null;
async function contacts(fresh = false) {
  if (!contactsCache || fresh) contactsCache = await api("/admin/contacts");
  return contactsCache;
}
function chatName(c, key) {
  const [kind, num] = key.split(":");
  if (kind === "friend") {
    const f = c.friends.find((x) => x.qq === num);
    return f ? f.name : key;
  }
  if (kind === "group") {
    const g = c.groups.find((x) => x.gnumber === num);
    return g ? g.name : key;
  }
  return key;
}

// ---------------------------------------------------------------- overview

const overview = {
  timer: null,
  last: null,
  async enter() {
    await this.tick();
    this.timer = setInterval(() => this.tick(), 2000);
  },
  leave() {
    clearInterval(this.timer);
  },
  field(name, value, cls) {
    const el = $(`#overview [data-field="${name}"]`);
    el.textContent = value;
    if (cls !== undefined) el.className = `value ${cls}`;
  },
  async tick() {
    let o;
    try {
      o = await api("/admin/overview");
    } catch (e) {
      if (e instanceof NotAvailable) unavailable($("#overview"), "The overview");
      return;
    }
    const metrics = await readMetrics();
    this.field("account", `${o.account.nick} (${o.account.qq})`);
    $("#top-account").textContent = `${o.account.nick} · ${o.account.qq} · ${o.backend}`;
    this.field("backend", o.backend);
    let link = o.link;
    if (link === "unknown" && metrics.link !== undefined) link = metrics.link ? "up" : "down";
    this.field("link", link, `state-${link}`);
    this.field("uptime", duration(o.uptime_secs));
    this.field("contacts", `${o.friends} friends · ${o.groups} groups`);
    this.field("bots", String(o.bots));
    this.field("failures", String(o.failures));
    const now = Date.now();
    const sent = o.sim ? o.sim.sent_last : metrics.sends;
    const sample = { at: now, calls: o.calls, decisions: o.decisions, sent, messages: metrics.messages };
    if (this.last) {
      const secs = Math.max((now - this.last.at) / 1000, 0.001);
      const per = (k) => (sample[k] === undefined || this.last[k] === undefined
        ? null : Math.max(sample[k] - this.last[k], 0) / secs);
      const msgs = per("messages") ?? per("calls");
      this.field("message-rate", msgs === null ? "–" : rate(msgs));
      const sends = per("sent");
      this.field("send-rate", sends === null ? "–" : rate(sends));
      this.field("decision-rate", rate(per("decisions") ?? 0));
    }
    this.last = sample;
    const w = o.webhook || {};
    this.field("webhook", w.post_api
      ? `answered ${w.answered} · acted ${w.acted} · ignored ${w.ignored} · failed ${w.failed} · dropped ${w.dropped} · waiting ${w.waiting}`
      : "not configured (messages no bot takes are dropped)",
      w.post_api && w.failed > 0 ? "state-down" : "");
  },
};

/** What /metrics adds: the link state (onebot) and totals of messages in
 *  and sends, when the gateway exports them. Missing is fine. */
async function readMetrics() {
  const out = {};
  try {
    const res = await fetch("/metrics", { credentials: "same-origin" });
    if (!res.ok) return out;
    const text = await res.text();
    for (const line of text.split("\n")) {
      if (line.startsWith("#")) continue;
      const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
      if (!m) continue;
      const [, name, , value] = m;
      const v = Number(value);
      if (/^openqq_backend_up$/.test(name)) out.link = v > 0;
      else if (/^openqq_messages_(in|received)(_total)?$/.test(name)) out.messages = (out.messages || 0) + v;
      else if (/^openqq_sends(_total)?$/.test(name)) out.sends = (out.sends || 0) + v;
    }
  } catch (_) { /* no metrics: rates from the counters we have */ }
  return out;
}

// -------------------------------------------------------------------- bots

const bots = {
  timer: null,
  async enter() {
    $("#reload-result").textContent = "";
    await this.refresh();
    this.timer = setInterval(() => this.refresh(), 5000);
  },
  leave() {
    clearInterval(this.timer);
  },
  async refresh() {
    let data;
    try {
      data = await api("/admin/scripts");
    } catch (e) {
      if (e instanceof NotAvailable) unavailable($("#bots"), "The bot list");
      return;
    }
    const box = $("#bots");
    const seen = new Set();
    for (const b of data.scripts) {
      seen.add(b.name);
      let card = box.querySelector(`.bot[data-bot="${CSS.escape(b.name)}"]`);
      if (!card) {
        card = this.card(b.name);
        box.append(card);
      }
      this.fill(card, b);
    }
    for (const card of box.querySelectorAll(".bot")) {
      if (!seen.has(card.dataset.bot)) card.remove();
    }
    if (!data.scripts.length) {
      box.replaceChildren(h("p", { class: "muted" }, "No bots are loaded (set scripts_dir or [[scripts]] in the config)."));
    }
    const rej = $("#rejected");
    rej.replaceChildren(...data.rejected.map((r) => h("div", { class: "notice" },
      h("b", {}, `${r.name}: a new version was refused`), " — ", r.reason,
      h("div", { class: "muted mono" }, `${r.path} · ${String(r.sha256).slice(0, 12)} · ${clock(r.at * 1000)}`))));
  },
  card(name) {
    const card = h("div", { class: "bot", dataset: { bot: name } },
      h("header", {},
        h("h3", {}, name),
        h("span", { class: "badge state" }),
        h("span", { class: "badge version mono" }),
        h("span", { class: "badge world" }),
        h("div", { class: "actions" },
          h("button", { type: "button", class: "bot-toggle secondary", onclick: () => this.toggle(card) }, "Disable"))),
      h("div", { class: "toggle-result muted" }),
      h("div", { class: "stats" }),
      h("div", { class: "failures" }),
      h("details", { class: "grants" }, h("summary", {}, "Grants and limits"), h("pre", {})),
      h("details", { class: "timers" }, h("summary", {}, "Timers"), h("pre", {})),
      h("details", { class: "kv", ontoggle: (e) => e.target.open && this.kv(card) },
        h("summary", {}, "KV keys"), h("div", { class: "kv-body muted" }, "…")));
    return card;
  },
  fill(card, b) {
    const enabled = b.enabled !== false;
    card.classList.toggle("disabled", !enabled);
    const state = $(".state", card);
    const paused = b.paused_until && b.paused_until * 1000 > Date.now();
    state.textContent = !enabled ? "disabled" : paused ? "paused" : "enabled";
    state.className = `badge state ${!enabled ? "bad" : paused ? "warn" : "ok"}`;
    $(".version", card).textContent = `v ${String(b.sha256).slice(0, 12)} · gen ${b.generation}`;
    $(".world", card).textContent = `world ${String(b.world).replace(/^.*@/, "")}`;
    const toggle = $(".bot-toggle", card);
    toggle.textContent = enabled ? "Disable" : "Enable";
    toggle.dataset.enabled = String(enabled);
    const stat = (label, v) => h("div", {}, h("b", {}, v), label);
    $(".stats", card).replaceChildren(
      stat("calls", b.calls), stat("decisions", b.decisions), stat("passes", b.passes),
      stat("p50", micros(b.p50_us)), stat("p99", micros(b.p99_us)),
      stat("traps", b.traps), stat("deadline", b.timeouts), stat("wall clock", b.wall_clock),
      stat("skipped", b.skipped), stat("not its chat", b.other_chats), stat("denied", b.denied),
      stat("timer calls", b.timer_calls));
    const fails = b.last_failures || [];
    $(".failures", card).replaceChildren(...(fails.length
      ? [h("div", { class: "muted" }, `Last failures (${b.recent_failures} in a row${paused ? `, paused until ${clock(b.paused_until * 1000)}` : ""}):`),
         h("ul", {}, fails.slice(-5).reverse().map((f) => h("li", {}, h("span", { class: "muted" }, clock(f.at * 1000)), " ", f.reason)))]
      : []));
    $(".grants pre", card).textContent = JSON.stringify({
      grants: b.grants, denials: b.denials, timeout_ms: b.timeout_ms, wall_ms: b.wall_ms,
      memory_mb: b.memory_mb, instances: b.instances, path: b.path,
      loaded_at: new Date(b.loaded_at * 1000).toISOString() }, null, 2);
    $(".timers pre", card).textContent = JSON.stringify(b.timers, null, 2);
  },
  async toggle(card) {
    const name = card.dataset.bot;
    const btn = $(".bot-toggle", card);
    const to = btn.dataset.enabled === "true" ? "disable" : "enable";
    btn.disabled = true;
    const out = $(".toggle-result", card);
    try {
      const r = await post(`/admin/scripts/${encodeURIComponent(name)}/${to}`);
      out.textContent = r.enabled ? "enabled" : "disabled: messages skip it; it stays loaded";
    } catch (e) {
      out.textContent = e instanceof NotAvailable ? "Enable/disable is not available in this gateway build." : String(e.message);
    }
    btn.disabled = false;
    await this.refresh();
  },
  async kv(card) {
    const body = $(".kv-body", card);
    try {
      const r = await api(`/admin/kv/${encodeURIComponent(card.dataset.bot)}`);
      if (r.code !== 0) {
        body.textContent = r.status || "no store";
        return;
      }
      body.replaceChildren(r.keys.length
        ? h("table", {}, h("tr", {}, h("th", {}, "key"), h("th", {}, "bytes")),
            r.keys.map((k) => h("tr", {}, h("td", { class: "mono" }, k.key), h("td", {}, k.bytes))))
        : "no keys",
        h("div", { class: "muted" }, `${r.total_bytes} bytes in all`));
    } catch (e) {
      body.textContent = e instanceof NotAvailable ? "KV is not available." : e.message;
    }
  },
  async reloadAll() {
    const out = $("#reload-result");
    out.textContent = "reloading…";
    try {
      const r = await post("/admin/scripts/reload");
      if (r.loaded === undefined) {
        out.textContent = r.status || JSON.stringify(r);
      } else {
        const parts = [`loaded ${r.loaded.length}`, `swapped ${r.swapped.length}`,
          `unchanged ${r.unchanged.length}`, `unloaded ${r.unloaded.length}`];
        if (r.rejected.length) parts.push(`rejected: ${r.rejected.map((x) => `${x.name} (${x.reason})`).join("; ")}`);
        if (r.config_error) parts.push(`config error: ${r.config_error}`);
        out.textContent = `Reloaded: ${parts.join(", ")}`;
      }
    } catch (e) {
      out.textContent = e instanceof NotAvailable ? "Reload is not available." : e.message;
    }
    await this.refresh();
  },
};

// ------------------------------------------------------------------- trace

const MAX_ROWS = 500;

const trace = {
  stream: null,
  traces: new Map(),
  selected: null,
  async enter(arg) {
    await this.fillFilters();
    await this.load();
    if (arg) this.show(arg);
  },
  leave() {
    if (this.stream) this.stream.close();
    this.stream = null;
  },
  async fillFilters() {
    const chat = $("#trace-chat"), bot = $("#trace-bot");
    if (chat.options.length <= 1) {
      try {
        const c = await contacts();
        for (const f of c.friends) chat.append(h("option", { value: `friend:${f.qq}` }, `${f.name} (friend ${f.qq})`));
        for (const g of c.groups) chat.append(h("option", { value: `group:${g.gnumber}` }, `${g.name} (group ${g.gnumber})`));
      } catch (_) { /* filters stay "all" */ }
    }
    try {
      const s = await api("/admin/scripts");
      const have = new Set([...bot.options].map((o) => o.value));
      for (const b of s.scripts) if (!have.has(b.name)) bot.append(h("option", { value: b.name }, b.name));
    } catch (_) { /* no bots */ }
  },
  matches(t) {
    const chat = $("#trace-chat").value, bot = $("#trace-bot").value;
    if (chat && t.chat !== chat) return false;
    if (bot && !(t.steps || []).some((s) => s.kind === "bot" && s.bot === bot)) return false;
    return true;
  },
  async load() {
    this.leave();
    this.traces.clear();
    const list = $("#trace-list");
    const q = new URLSearchParams({ limit: String(MAX_ROWS) });
    if ($("#trace-chat").value) q.set("chat", $("#trace-chat").value);
    if ($("#trace-bot").value) q.set("bot", $("#trace-bot").value);
    let r;
    try {
      r = await api(`/admin/trace?${q}`);
    } catch (e) {
      if (e instanceof NotAvailable) unavailable(list, "The trace");
      else list.replaceChildren(h("p", { class: "error" }, e.message));
      return;
    }
    list.replaceChildren();
    for (const t of r.traces) this.upsert(t);
    if (!r.traces.length) list.append(h("p", { class: "muted empty" }, "No messages yet. Send one from the chat simulator."));
    this.stream = new EventSource("/admin/trace/stream");
    $("#trace-state").textContent = "live";
    this.stream.addEventListener("trace", (ev) => {
      try { this.upsert(JSON.parse(ev.data)); } catch (_) { /* a bad line is skipped */ }
    });
    this.stream.onerror = () => { $("#trace-state").textContent = "reconnecting…"; };
    this.stream.onopen = () => { $("#trace-state").textContent = "live"; };
  },
  upsert(t) {
    if (!this.matches(t)) return;
    this.traces.set(t.seq, t);
    const list = $("#trace-list");
    const empty = $(".empty", list);
    if (empty) empty.remove();
    const row = this.row(t);
    const old = list.querySelector(`.trace-row[data-seq="${t.seq}"]`);
    if (old) old.replaceWith(row);
    else list.prepend(row); // newest first
    while (list.children.length > MAX_ROWS) {
      const last = list.lastElementChild;
      this.traces.delete(Number(last.dataset.seq));
      last.remove();
    }
    if (this.selected === t.seq) {
      row.classList.add("selected");
      this.detail(t);
    }
  },
  row(t) {
    const who = t.chat ? `${t.chat_name || t.chat}${t.sender ? " · " + t.sender : ""}` : t.kind;
    return h("div", { class: "trace-row", dataset: { seq: t.seq, id: t.id }, onclick: () => this.select(t.seq) },
      h("span", { class: "when" }, clock(t.at_ms)),
      h("span", { class: "who" }, who),
      h("span", { class: `outcome outcome-${t.outcome}` }, t.outcome),
      h("span", { class: "content" }, t.dry_run ? h("span", { class: "badge warn" }, "dry run") : null, t.dry_run ? " " : null, t.content || ""),
      h("span", { class: "why-short" }, t.why || ""));
  },
  select(seq) {
    this.selected = seq;
    for (const r of document.querySelectorAll(".trace-row.selected")) r.classList.remove("selected");
    const row = $(`#trace-list .trace-row[data-seq="${seq}"]`);
    if (row) row.classList.add("selected");
    const t = this.traces.get(seq);
    if (t) this.detail(t);
  },
  async show(id) {
    try {
      const t = await api(`/admin/trace/${encodeURIComponent(id)}`);
      this.selected = t.seq;
      this.detail(t);
    } catch (e) {
      $("#trace-detail").replaceChildren(h("p", { class: "muted" }, `No trace for ${id} (it may have left the ring).`));
    }
  },
  detail(t) {
    const step = (s) => {
      let what;
      switch (s.kind) {
        case "bot": what = [h("b", {}, s.bot), ` ${s.outcome}`, s.version ? h("span", { class: "muted mono" }, ` v ${s.version}`) : null,
          s.us !== undefined ? ` · ${micros(s.us)}` : null, s.detail ? ` — ${s.detail}` : null]; break;
        case "webhook": what = [h("b", {}, "webhook"), ` ${s.status ?? "no answer"}`, s.ms !== undefined ? ` · ${s.ms} ms` : null,
          s.acted ? " · acted on" : " · not acted on", s.detail ? ` — ${s.detail}` : null]; break;
        case "send": what = [h("b", {}, "send"), ` ${s.outcome}`, s.by ? ` by ${s.by}` : null,
          s.msg_id ? h("span", { class: "mono" }, ` ${s.msg_id}`) : null, s.retries ? ` · ${s.retries} retries` : null,
          s.detail ? ` — ${s.detail}` : null]; break;
        case "mute": case "kick": what = [h("b", {}, s.kind), ` ${s.qq} ${s.outcome}`, s.detail ? ` — ${s.detail}` : null]; break;
        default: what = [h("b", {}, s.kind), s.detail ? ` ${s.detail}` : null];
      }
      return h("tr", { class: `step step-${s.kind}` }, h("td", { class: "muted mono" }, micros(s.at_us)), h("td", {}, what));
    };
    $("#trace-detail").replaceChildren(
      h("div", {}, h("b", {}, t.chat_name || t.chat || t.kind), t.sender ? ` · ${t.sender} (${t.sender_qq})` : "",
        h("span", { class: "muted" }, ` · ${new Date(t.at_ms).toLocaleString()} · ${t.kind} ${t.id}`),
        t.dry_run ? h("span", { class: "badge warn" }, " dry run — nothing sent") : null),
      t.content ? h("pre", { class: "content" }, t.content) : null,
      h("div", { class: "why" }, h("b", { class: `outcome-${t.outcome}` }, t.outcome), " — ", t.why || ""),
      h("table", { class: "steps" }, (t.steps || []).map(step)));
  },
};

// -------------------------------------------------------------------- chat

const chat = {
  timer: null,
  cursor: 0,
  logs: new Map(), // chat key → [element]
  pending: new Map(), // msg_id → the .msg.in element waiting for an answer
  c: null,
  async enter() {
    let c;
    try {
      c = await contacts(true);
    } catch (e) {
      this.off(e instanceof NotAvailable ? "The chat simulator is not available in this gateway build." : e.message);
      return;
    }
    this.c = c;
    // On real QQ (onebot) the page runs dry runs: the bots decide, nothing
    // is sent, and their decisions show as the chat.
    this.dry = !c.sim;
    $("#chat-unavailable").hidden = true;
    $("#chat-box").hidden = false;
    $("#chat-dry").hidden = !this.dry;
    $("#chat-title").textContent = this.dry ? "Chat (dry run)" : "Chat simulator";
    this.fillTargets();
    if (this.dry) return;
    if (!this.cursor) {
      const o = await api("/admin/overview");
      this.cursor = o.sim ? o.sim.sent_last : 0;
    }
    this.timer = setInterval(() => this.poll(), 400);
  },
  leave() {
    clearInterval(this.timer);
  },
  off(text) {
    $("#chat-unavailable").textContent = text;
    $("#chat-unavailable").hidden = false;
    $("#chat-box").hidden = true;
  },
  key() {
    return `${$("#chat-kind").value}:${$("#chat-target").value}`;
  },
  fillTargets() {
    const kind = $("#chat-kind").value, target = $("#chat-target");
    const keep = target.value;
    const items = kind === "friend"
      ? this.c.friends.map((f) => [f.qq, `${f.name} (${f.qq})`])
      : this.c.groups.map((g) => [g.gnumber, `${g.name} (${g.gnumber})`]);
    target.replaceChildren(...items.map(([v, label]) => h("option", { value: v }, label)));
    if (items.some(([v]) => v === keep)) target.value = keep;
    this.fillMembers();
  },
  fillMembers() {
    const member = $("#chat-member");
    member.hidden = $("#chat-kind").value !== "group";
    if (member.hidden) { this.show(); return; }
    const g = this.c.groups.find((x) => x.gnumber === $("#chat-target").value);
    const keep = member.value;
    member.replaceChildren(...(g ? g.members : []).map((m) =>
      h("option", { value: m.qq }, `${m.name} (${m.qq}${m.role !== "member" ? ", " + m.role : ""})`)));
    if (g && g.members.some((m) => m.qq === keep)) member.value = keep;
    this.show();
  },
  show() {
    const log = $("#chat-log");
    log.replaceChildren(...(this.logs.get(this.key()) || []));
    log.scrollTop = log.scrollHeight;
  },
  add(key, el) {
    if (!this.logs.has(key)) this.logs.set(key, []);
    const list = this.logs.get(key);
    list.push(el);
    if (list.length > 300) list.shift();
    if (key === this.key()) {
      const log = $("#chat-log");
      log.append(el);
      while (log.children.length > 300) log.firstElementChild.remove();
      log.scrollTop = log.scrollHeight;
    }
  },
  bubble(cls, who, text) {
    return h("div", { class: `msg ${cls}` }, h("div", { class: "who" }, who), h("div", { class: "text" }, text));
  },
  async send() {
    const input = $("#chat-input");
    const text = input.value;
    if (!text.trim()) return;
    const kind = $("#chat-kind").value, key = this.key();
    let body, who;
    if (kind === "friend") {
      const qq = $("#chat-target").value;
      body = { type: "message", sender_qq: Number(qq), content: text };
      who = chatName(this.c, key);
    } else {
      const qq = $("#chat-member").value;
      const g = this.c.groups.find((x) => x.gnumber === $("#chat-target").value);
      const m = g && g.members.find((x) => x.qq === qq);
      body = { type: "group_message", sender_qq: Number(qq), gnumber: Number($("#chat-target").value), content: text };
      who = m ? m.name : qq;
    }
    input.value = "";
    const el = this.bubble("in", who, text);
    this.add(key, el);
    if (this.dry) {
      const role = kind === "group" ? (this.member() || {}).role : undefined;
      await this.dryRun(el, key, { kind, chat: Number($("#chat-target").value), sender: body.sender_qq, content: text, role });
      return;
    }
    try {
      const r = await post("/sim/receive", body);
      if (r.code !== 0) {
        el.append(h("div", { class: "note error" }, r.status || `code ${r.code}`));
        return;
      }
      el.dataset.msgId = r.msg_id;
      this.pending.set(r.msg_id, { el, key, at: Date.now() });
      setTimeout(() => this.why(r.msg_id), 2500);
    } catch (e) {
      el.append(h("div", { class: "note error" }, e.message));
    }
  },
  /** The sender picked in a group. */
  member() {
    const g = this.c.groups.find((x) => x.gnumber === $("#chat-target").value);
    return g && g.members.find((x) => x.qq === $("#chat-member").value);
  },
  /** A dry run of the typed message: each bot's turn under it, then what
   *  would have been sent, as the chat — labelled, since none of it was. */
  async dryRun(el, key, body) {
    let r;
    try {
      r = await post("/admin/dry-run", body);
    } catch (e) {
      el.append(h("div", { class: "note error" }, e instanceof NotAvailable ? "dry runs are not available in this gateway build" : e.message));
      return;
    }
    el.dataset.msgId = r.msg_id;
    const turns = r.bots.map((b) => `${b.bot}: ${b.outcome}${b.detail ? " (" + b.detail + ")" : ""} · ${micros(b.us)}`);
    el.append(h("div", { class: "note decisions" }, turns.length ? turns.join(" · ") : "no bots asked"));
    for (const s of r.suppressed) {
      const where = s.chat || key;
      let out;
      if (s.action === "reply" || s.action === "send") {
        out = this.bubble("out dry", `${this.c.me.nick} · ${s.by}`, s.text || "");
      } else {
        const m = this.nameOf(where, s.qq);
        const what = s.action === "mute" ? `${m} would be muted for ${duration(s.secs || 0)} · 禁言`
          : s.action === "unmute" ? `${m} would be unmuted · 解除禁言` : `${m} would be removed from the group`;
        out = h("div", { class: "msg mute dry" }, h("div", { class: "text" }, what));
      }
      out.append(h("div", { class: "dry-label" }, "dry run — nothing sent"));
      if (s.refused) out.append(h("div", { class: "note error" }, `QQ would refuse it: ${s.refused}`));
      this.add(where, out);
    }
    if (!r.decided) {
      const to = r.fallback && r.fallback.webhook ? "it would go to the webhook (not posted)" : "no webhook is configured";
      el.append(h("div", { class: "note" }, `no bot took it — ${to} · `, h("a", { href: `#/trace/${r.msg_id}` }, "trace")));
    }
  },
  nameOf(key, qq) {
    const g = this.c.groups.find((x) => `group:${x.gnumber}` === key);
    const m = g && g.members.find((x) => x.qq === qq);
    return m ? m.name : qq;
  },
  /** No answer in this chat since the message: say why, from its trace. */
  async why(msgId) {
    const p = this.pending.get(msgId);
    if (!p) return;
    this.pending.delete(msgId);
    const note = h("div", { class: "note" }, "no reply · ", h("a", { href: `#/trace/${msgId}` }, "why?"));
    p.el.append(note);
    try {
      const t = await api(`/admin/trace/${encodeURIComponent(msgId)}`);
      if (t.why) note.replaceChildren("no reply — ", t.why, " · ", h("a", { href: `#/trace/${msgId}` }, "trace"));
    } catch (_) { /* the link stays */ }
  },
  async poll() {
    let records;
    try {
      records = await api(`/sim/sent?after=${this.cursor}`);
    } catch (_) { return; }
    if (!Array.isArray(records)) return;
    for (const r of records) {
      this.cursor = Math.max(this.cursor, r.seq);
      let key = null, el = null;
      if (r.action === "send_message") {
        key = `friend:${r.qq}`;
        el = this.bubble("out", this.c.me.nick, r.content);
      } else if (r.action === "send_group_message") {
        key = `group:${r.gnumber}`;
        el = this.bubble("out", this.c.me.nick, r.content);
      } else if (r.action === "shutup") {
        key = `group:${r.gnumber}`;
        const g = this.c.groups.find((x) => x.gnumber === r.gnumber);
        const m = g && g.members.find((x) => x.qq === r.qq);
        el = h("div", { class: "msg mute" }, h("div", { class: "text" },
          r.time > 0 ? `${m ? m.name : r.qq} muted for ${duration(r.time)} · 禁言` : `${m ? m.name : r.qq} unmuted · 解除禁言`));
      } else if (r.action === "kick") {
        key = `group:${r.gnumber}`;
        el = h("div", { class: "msg mute" }, h("div", { class: "text" }, `${r.qq} was removed from the group`));
      }
      if (!key) continue;
      // An answer in a chat settles the messages waiting there.
      for (const [id, p] of this.pending) if (p.key === key) this.pending.delete(id);
      this.add(key, el);
    }
  },
};

// -------------------------------------------------------------------- logs

const MAX_LINES = 2000;

const logs = {
  stream: null,
  async enter() {
    const box = $("#log-lines");
    let r;
    try {
      r = await api("/admin/logs?limit=500");
    } catch (e) {
      if (e instanceof NotAvailable) unavailable(box, "The log view");
      else box.replaceChildren(h("p", { class: "error" }, e.message));
      return;
    }
    box.replaceChildren();
    for (const l of r.lines) this.add(l);
    this.stream = new EventSource("/admin/logs/stream");
    $("#log-state").textContent = "live";
    this.stream.addEventListener("log", (ev) => {
      try { this.add(JSON.parse(ev.data)); } catch (_) { /* skipped */ }
    });
    this.stream.onerror = () => { $("#log-state").textContent = "reconnecting…"; };
    this.stream.onopen = () => { $("#log-state").textContent = "live"; };
  },
  leave() {
    if (this.stream) this.stream.close();
    this.stream = null;
  },
  shown(level) {
    const want = $("#log-level").value;
    if (want === "ERROR") return level === "ERROR";
    if (want === "WARN") return level === "WARN" || level === "ERROR";
    return true;
  },
  add(l) {
    const box = $("#log-lines");
    const line = h("div", { class: "log-line", dataset: { level: l.level, seq: l.seq } },
      h("span", { class: "muted" }, clock(l.at_ms)), " ",
      h("span", { class: `lvl-${l.level}` }, l.level.padEnd(5)), " ",
      h("span", { class: "target" }, l.target), " ", l.text);
    line.hidden = !this.shown(l.level);
    box.append(line);
    while (box.children.length > MAX_LINES) box.firstElementChild.remove();
    if ($("#log-follow").checked) box.scrollTop = box.scrollHeight;
  },
  filter() {
    for (const line of document.querySelectorAll("#log-lines .log-line")) line.hidden = !this.shown(line.dataset.level);
  },
};

// ------------------------------------------------------------------ router

const pages = { overview, bots, trace, chat, logs };
let current = null;

async function route() {
  const [, name = "overview", arg] = (location.hash || "#/overview").split("/");
  const page = pages[name] ? name : "overview";
  if (current && pages[current].leave) pages[current].leave();
  current = page;
  for (const sec of document.querySelectorAll(".page")) sec.hidden = sec.id !== `page-${page}`;
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.page === page);
  try {
    await pages[page].enter(arg ? decodeURIComponent(arg) : undefined);
  } catch (e) {
    console.error(e);
  }
}

function wire() {
  $("#reload-all").addEventListener("click", () => bots.reloadAll());
  $("#trace-chat").addEventListener("change", () => trace.load());
  $("#trace-bot").addEventListener("change", () => trace.load());
  $("#chat-kind").addEventListener("change", () => chat.fillTargets());
  $("#chat-target").addEventListener("change", () => chat.fillMembers());
  $("#chat-form").addEventListener("submit", (e) => { e.preventDefault(); chat.send(); });
  $("#log-level").addEventListener("change", () => logs.filter());
  window.addEventListener("hashchange", route);
  // Who this is, on every page; the logout button only when a token is in use.
  api("/admin/overview").then((o) => {
    $("#top-account").textContent = `${o.account.nick} · ${o.account.qq} · ${o.backend}`;
    $("#logout-form").hidden = !o.login_required;
  }).catch(() => {});
  route();
}

wire();
