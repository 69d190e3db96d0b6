// openqq_commands: who a message addresses, and chat commands, for
// JavaScript bots built with componentize-qjs against `wit/0.2.0` — the Rust
// SDK's `openqq_bot::command` and the Python `guest-py/openqq_commands.py`,
// with the same words.
//
//   import { Commands } from "./openqq_commands.js";
//   const commands = new Commands();
//   commands.command("roll", "Roll a die", { args: "sides:uint?", aliases: ["r"], cooldown: 10 },
//     (call) => `🎲 ${Number(nowMs()) % (call.args.sides ?? 6) + 1}`);
//   export function onMessage(msg) { return commands.handle(msg); }
//
// A command starts with a prefix (`/` by default; config `prefix`) or with an
// @-mention of the account. Arguments: `name:kind`, `?` after an optional
// one; kinds `int`, `uint`, `word`, `rest`, `qq` (an @-mention or digits).
// `permission`: `everyone`, `admin`, `owner`, `operator` (config
// `operators`). `cooldown`: seconds per sender, on the gateway's clock. A
// handler returns a reply text, a decision, or null (pass the message on).
// QQ numbers are plain JS numbers here (they fit in 2^53).
import { of } from "openqq:bot/addressing@0.2.0";
import { nowMs } from "openqq:bot/host@0.2.0";

const ROLES = ["owner", "admin", "member"];

// A field by its WIT name in camelCase (the bindings' spelling), kebab as a fallback.
function field(record, camel, kebab) {
  if (record == null) return undefined;
  return record[camel] !== undefined ? record[camel] : record[kebab];
}

function num(v) {
  return v == null ? null : Number(v);
}

// Who `msg` addresses, as plain values: role ("owner", "admin", "member" or
// null), mentions (numbers), atMe, atAll, replyTo ({id, sender, text} or
// null), body (the text without a leading mention of the account).
export function addressed(msg) {
  const a = of(msg.id);
  if (a == null) {
    return { role: null, mentions: [], atMe: false, atAll: false, replyTo: null, body: msg.content.trimEnd() };
  }
  const role = a.role == null ? null : typeof a.role === "number" ? ROLES[a.role] : String(a.role).toLowerCase();
  const q = field(a, "replyTo", "reply-to");
  return {
    role,
    mentions: Array.from(a.mentions, Number),
    atMe: Boolean(field(a, "atMe", "at-me")),
    atAll: Boolean(field(a, "atAll", "at-all")),
    replyTo: q == null ? null : { id: q.id, sender: num(q.sender), text: q.text == null ? null : q.text },
    body: a.body,
  };
}

class Arg {
  constructor(spec) {
    const [name, kind = "word"] = spec.split(":");
    this.optional = kind.endsWith("?");
    this.kind = kind.replace(/\?$/, "") || "word";
    this.name = name.trim();
    if (!["int", "uint", "word", "rest", "qq"].includes(this.kind)) {
      throw `argument '${spec}': unknown kind '${this.kind}'`;
    }
  }
  toString() {
    const shown = this.kind === "rest" ? `${this.name}…` : this.kind === "qq" ? `@${this.name}` : this.name;
    return this.optional ? `[${shown}]` : `<${shown}>`;
  }
}

class ArgError {
  constructor(text) {
    this.text = text;
  }
}

function parse(args, line, mentions) {
  const out = {};
  let rest = line.trim();
  mentions = [...mentions];
  for (const arg of args) {
    if (rest === "") {
      if (arg.optional) continue;
      throw new ArgError(`missing ${arg}`);
    }
    if (arg.kind === "rest") {
      out[arg.name] = rest;
      rest = "";
      continue;
    }
    const m = /^(\S+)\s*([\s\S]*)$/.exec(rest);
    const word = m[1];
    rest = m[2];
    if (arg.kind === "int" || arg.kind === "uint") {
      const ok = arg.kind === "int" ? /^[+-]?\d+$/.test(word) : /^\+?\d+$/.test(word);
      if (!ok) {
        const what = arg.kind === "int" ? "a whole number" : "a whole number ≥ 0";
        throw new ArgError(`${arg.name} must be ${what}, not "${word}"`);
      }
      out[arg.name] = Number(word);
    } else if (arg.kind === "qq") {
      if (word.startsWith("@")) {
        if (mentions.length === 0) throw new ArgError(`${arg.name}: nobody mentioned`);
        out[arg.name] = mentions.shift();
      } else if (/^\d+$/.test(word)) {
        out[arg.name] = Number(word);
      } else {
        throw new ArgError(`${arg.name} must be an @-mention or a QQ number, not "${word}"`);
      }
    } else {
      out[arg.name] = word;
    }
  }
  if (rest !== "") throw new ArgError(`too many arguments: "${rest}"`);
  return out;
}

const REFUSALS = {
  admin: "for group admins and the owner only",
  owner: "for the group's owner only",
  operator: "for the bot's operators only",
};
const NOTES = { admin: " (admins)", owner: " (owner)", operator: " (operators)" };

function decision(text) {
  return { reply: text, shutup: null };
}

export class Commands {
  constructor({ prefixes = ["/"], operators = [], help = true, bareInPrivate = false } = {}) {
    this.prefixes = [...prefixes].filter((p) => p !== "").sort((a, b) => b.length - a.length);
    this.operators = [...operators].map(Number);
    this.help = help;
    this.bareInPrivate = bareInPrivate;
    this.commands = [];
    this.until = new Map();
  }

  // Reads `prefix` and `operators` (`operators.0`, … or one string of
  // numbers) from init's config; throws a string naming a bad key.
  configure(config) {
    for (const [key, value] of config) {
      if (key === "prefix") {
        this.prefixes = value.split(/\s+/).filter((p) => p !== "").sort((a, b) => b.length - a.length);
      } else if (key === "operators" || /^operators\.\d+$/.test(key)) {
        for (const word of value.split(/[\s,]+/).filter((w) => w !== "")) {
          if (!/^\d+$/.test(word)) throw `config \`${key}\`: not a QQ number (got '${word}')`;
          this.operators.push(Number(word));
        }
      }
    }
    return this;
  }

  // Declares a command: { args, aliases, permission, cooldown } and its handler.
  command(name, about, { args = "", aliases = [], permission = "everyone", cooldown = 0 } = {}, run) {
    if (!["everyone", "admin", "owner", "operator"].includes(permission)) {
      throw `command ${name}: unknown permission '${permission}'`;
    }
    const list = Array.isArray(args) ? args : args.split(/\s+/).filter((s) => s !== "");
    this.commands.push({ name, about, args: list.map((s) => new Arg(s)), aliases, permission, cooldownMs: Math.round(cooldown * 1000), run });
    return this;
  }

  prefix() {
    return this.prefixes.length ? this.prefixes.reduce((a, b) => (b.length < a.length ? b : a)) : "";
  }

  usage(c) {
    return [this.prefix() + c.name, ...c.args.map(String)].join(" ");
  }

  answers(c, word) {
    const w = word.toLowerCase();
    return c.name.toLowerCase() === w || c.aliases.some((a) => a.toLowerCase() === w);
  }

  helpText() {
    const p = this.prefix();
    const lines = ["Commands:"];
    for (const c of this.commands) {
      let line = `${this.usage(c)} — ${c.about}${NOTES[c.permission] ?? ""}`;
      if (c.aliases.length) line += ` (also ${c.aliases.map((a) => p + a).join(", ")})`;
      lines.push(line);
    }
    if (this.help) lines.push(`${p}help [command] — this list, or one command`);
    return lines.join("\n");
  }

  helpOne(c) {
    const p = this.prefix();
    let out = `${this.usage(c)} — ${c.about}`;
    if (c.aliases.length) out += `\nalso: ${c.aliases.map((a) => p + a).join(", ")}`;
    if (c.permission !== "everyone") out += `\n${REFUSALS[c.permission]}`;
    if (c.cooldownMs) out += `\nonce every ${Math.max(1, Math.floor(c.cooldownMs / 1000))} s per person`;
    return out;
  }

  may(permission, sender, role) {
    if (this.operators.includes(sender)) return true;
    if (permission === "everyone") return true;
    if (permission === "admin") return role === "admin" || role === "owner";
    if (permission === "owner") return role === "owner";
    return false;
  }

  // Answers `msg` when it is one of the commands; null otherwise.
  handle(msg) {
    const a = addressed(msg);
    const text = a.body.trim();
    let line = null;
    for (const p of this.prefixes) {
      if (text.startsWith(p)) {
        line = text.slice(p.length);
        break;
      }
    }
    if (line === null && (a.atMe || (this.bareInPrivate && msg.kind === "friend"))) line = text;
    if (line === null) return null;
    const m = /^\s*(\S+)\s*([\s\S]*)$/.exec(line);
    if (!m) return null;
    const [, word, rest] = m;
    const p = this.prefix();
    const c = this.commands.find((c) => this.answers(c, word));
    if (!c) {
      if (this.help && word.toLowerCase() === "help") {
        let asked = rest.trim();
        if (p && asked.startsWith(p)) asked = asked.slice(p.length);
        const one = asked ? this.commands.find((c) => this.answers(c, asked)) : undefined;
        return decision(one ? this.helpOne(one) : this.helpText());
      }
      return null;
    }
    const sender = num(msg.sender.qq) ?? 0;
    if (!this.may(c.permission, sender, a.role)) return decision(`${p}${c.name}: ${REFUSALS[c.permission]}`);
    const me = num(msg.receiver.qq);
    let args;
    try {
      args = parse(c.args, rest, a.mentions.filter((q) => q !== me));
    } catch (e) {
      if (e instanceof ArgError) return decision(`${p}${c.name}: ${e.text} — usage: ${this.usage(c)}`);
      throw e;
    }
    if (c.cooldownMs) {
      const now = Number(nowMs());
      const key = `${c.name}/${sender}`;
      const until = this.until.get(key) ?? 0;
      if (until > now) return decision(`${p}${c.name}: again in ${Math.ceil((until - now) / 1000)} s`);
      if (this.until.size >= 4096) {
        for (const [k, v] of this.until) if (v <= now) this.until.delete(k);
      }
      this.until.set(key, now + c.cooldownMs);
    }
    const out = c.run({ msg, addressing: a, command: c.name, args, sender });
    return typeof out === "string" ? decision(out) : out ?? null;
  }
}
