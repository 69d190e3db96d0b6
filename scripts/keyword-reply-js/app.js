// keyword-reply, in JavaScript (QuickJS via componentize-qjs).
//
// Config (flattened, dotted keys, in the order the gateway gives them):
//   reply.<keyword> = "<reply>"  a message containing <keyword> gets <reply>; first match wins
//   banned.<n>      = "<word>"   in a group, a message containing <word> gets
//                                `banned_reply` (default 请文明发言) and a mute of
//                                `shutup_seconds` (default 60); checked before keywords
// A message that is exactly `/boom` makes the bot fail on purpose.
import host from "openqq:bot/host@0.1.0";

const DEFAULT_BANNED_REPLY = "请文明发言";
const DEFAULT_SHUTUP_SECONDS = 60;
const U32_MAX = 0xffffffff;

// One instance serves many messages: the configuration lives in module state.
let rules = [];          // [keyword, reply] in config order
let banned = [];         // banned words
let bannedReply = DEFAULT_BANNED_REPLY;
let shutupSeconds = DEFAULT_SHUTUP_SECONDS;

// init: func(config: list<tuple<string, string>>) -> result<_, string>
// Returning is `ok`; throwing a string is `err(string)`.
export function init(config) {
  const newRules = [];
  const newBanned = [];
  let newReply = DEFAULT_BANNED_REPLY;
  let newShutup = DEFAULT_SHUTUP_SECONDS;
  for (const [key, value] of config) {
    if (key.startsWith("reply.")) {
      const keyword = key.slice("reply.".length);
      if (keyword === "") throw "keyword-reply: empty keyword in 'reply.'";
      newRules.push([keyword, value]);
    } else if (key.startsWith("banned.")) {
      if (value === "") throw `keyword-reply: empty banned word in '${key}'`;
      newBanned.push(value);
    } else if (key === "banned_reply") {
      newReply = value;
    } else if (key === "shutup_seconds") {
      if (!/^[0-9]+$/.test(value) || Number(value) > U32_MAX) {
        throw `keyword-reply: shutup_seconds must be a whole number of seconds, got '${value}'`;
      }
      newShutup = Number(value);
    }
  }
  rules = newRules;
  banned = newBanned;
  bannedReply = newReply;
  shutupSeconds = newShutup;
  host.log("info", `keyword-reply (js): loaded ${rules.length} reply rules and ${banned.length} banned words`);
}

// on-message: func(msg: message) -> option<decision>; `null` is `none`.
export function onMessage(msg) {
  const content = msg.content;
  if (content === "/boom") {
    throw new Error("keyword-reply: boom requested");
  }
  if (msg.kind === "group" && banned.some((word) => content.includes(word))) {
    return { reply: bannedReply, shutup: shutupSeconds };
  }
  for (const [keyword, reply] of rules) {
    if (content.includes(keyword)) return { reply, shutup: null };
  }
  return null;
}

// componentize-qjs 0.4.5 cannot build a world that exports `init` (its own
// runtime exports one), so build.sh builds against a copy of the WIT where the
// export is `bot-init` (JS: `botInit`) and renames it back to `init` in the
// finished component. See README.md.
export { init as botInit };
