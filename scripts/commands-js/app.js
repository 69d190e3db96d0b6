// commands-js: chat commands in JavaScript (QuickJS via componentize-qjs,
// openqq:bot@0.2.0), through the helper guest-js/openqq_commands.js. The
// same commands as scripts/commands-py:
//   /add <a> <b>   /roll [sides] (/r, once every 10 s)   /warn <@member> [reason…] (admins)
//   /who           /help [command]
// Config: `prefix` (default `/`), `operators`.
import { nowMs } from "openqq:bot/host@0.2.0";
import { Commands } from "./openqq_commands.js";

const commands = new Commands()
  .command("add", "Add two whole numbers", { args: "a:int b:int" }, (call) => {
    const { a, b } = call.args;
    return `${a} + ${b} = ${a + b}`;
  })
  .command("roll", "Roll a die", { args: "sides:uint?", aliases: ["r"], cooldown: 10 }, (call) => {
    const sides = Math.max(1, call.args.sides ?? 6);
    return `🎲 d${sides}: ${(Number(nowMs()) % sides) + 1}`;
  })
  .command("warn", "Warn a member", { args: "member:qq reason:rest?", permission: "admin" }, (call) =>
    `⚠️ ${call.args.member} warned: ${call.args.reason ?? "no reason given"}`)
  .command("who", "What this message addresses", { args: "anything:rest?" }, (call) => {
    const a = call.addressing;
    const q = a.replyTo;
    const quoted = q === null ? "none" : `${q.id}/${q.sender ?? "?"}/${q.text ?? "?"}`;
    return `role=${a.role ?? "none"} mentions=[${a.mentions.join(",")}] at_me=${a.atMe} at_all=${a.atAll} reply=${quoted}`;
  });

// Exported as `bot-init` and renamed `init` after the build (build.sh).
export function botInit(config) {
  commands.configure(config);
}

export function onMessage(msg) {
  return commands.handle(msg);
}

export function onEvent(event) {}

export function onTimer(name, payload) {}
