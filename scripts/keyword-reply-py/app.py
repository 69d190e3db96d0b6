"""keyword-reply, in Python (componentize-py).

Config (flattened, dotted keys, in the order the gateway gives them):
  reply.<keyword> = "<reply>"   a message containing <keyword> gets <reply>; first match wins
  banned.<n>      = "<word>"    in a group, a message containing <word> gets
                                `banned_reply` (default 请文明发言) and a mute of
                                `shutup_seconds` (default 60); checked before keywords
A message that is exactly `/boom` makes the bot fail on purpose.
"""
from typing import List, Optional, Tuple

from componentize_py_types import Err
from wit_world import WitWorld
from wit_world.imports import host
from wit_world.imports.types import ChatKind, Decision, Message

DEFAULT_BANNED_REPLY = "请文明发言"
DEFAULT_SHUTUP_SECONDS = 60
U32_MAX = 0xFFFF_FFFF




class State:
    # componentize-py makes a new WitWorld object for every call, so the
    # configuration lives at module level (one instance = one module).
    rules: List[Tuple[str, str]] = []
    banned: List[str] = []
    banned_reply = DEFAULT_BANNED_REPLY
    shutup_seconds = DEFAULT_SHUTUP_SECONDS


class WitWorld(WitWorld):
    def init(self, config: List[Tuple[str, str]]) -> None:
        rules: List[Tuple[str, str]] = []
        banned: List[str] = []
        banned_reply = DEFAULT_BANNED_REPLY
        shutup_seconds = DEFAULT_SHUTUP_SECONDS
        for key, value in config:
            if key.startswith("reply."):
                keyword = key[len("reply."):]
                if not keyword:
                    raise Err("keyword-reply: empty keyword in 'reply.'")
                rules.append((keyword, value))
            elif key.startswith("banned."):
                if not value:
                    raise Err(f"keyword-reply: empty banned word in '{key}'")
                banned.append(value)
            elif key == "banned_reply":
                banned_reply = value
            elif key == "shutup_seconds":
                if not (value.isascii() and value.isdigit()) or int(value) > U32_MAX:
                    raise Err(f"keyword-reply: shutup_seconds must be a whole number of seconds, got '{value}'")
                shutup_seconds = int(value)
        State.rules, State.banned = rules, banned
        State.banned_reply, State.shutup_seconds = banned_reply, shutup_seconds
        host.log(host.Level.INFO,
                 f"keyword-reply (python): loaded {len(rules)} reply rules and {len(banned)} banned words")

    def on_message(self, msg: Message) -> Optional[Decision]:
        content = msg.content
        if content == "/boom":
            raise RuntimeError("keyword-reply: boom requested")
        if msg.kind == ChatKind.GROUP and any(word in content for word in State.banned):
            return Decision(reply=State.banned_reply, shutup=State.shutup_seconds)
        for keyword, reply in State.rules:
            if keyword in content:
                return Decision(reply=reply, shutup=None)
        return None
