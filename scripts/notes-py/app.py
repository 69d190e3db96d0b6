"""notes, in Python (componentize-py): a bot that remembers, through the
gateway's KV store (`openqq:bot@0.2.0`, interface `kv`).

Commands (the whole message, spaces around it ignored):
  记 <text> / note <text>   keeps <text> as a note of the sender's
  笔记 / notes               lists the sender's notes, oldest first
  清空笔记 / forget          deletes the sender's notes
  count                      how many messages the bot has seen in this chat
Every message is counted; everything that is not a command passes (None).

The store keeps its data across hot swaps, trap-rebuilds and gateway
restarts, and every instance of the bot sees the same data, so nothing is
kept in Python variables. Keys (the store is the bot's own):
  n/<qq>/<seq>   one note (UTF-8); <seq> is zero-padded to 8 digits so the
                 keys list in the order the notes were taken
  seq/<qq>       the sender's last note number (kv.increment)
  c/<chat>       messages seen in a chat (kv.increment): friend:<qq>,
                 group:<number>, discuss:<did>, sess:<qq>
A refused write (over a quota: `kv_max_value_bytes` …) is answered with
"存储已满: <the gateway's text>"; nothing was changed.
"""
from typing import List, Optional, Tuple

from componentize_py_types import Err
from wit_world import WitWorld
from wit_world.imports import host, kv
from wit_world.imports.openqq_bot_types import ChatKind, Decision, Event, Message

# A listing shows at most this many notes (the newest), each cut to this many
# characters, so it stays well under QQ's 4,500 characters per message.
LIST_MAX = 20
NOTE_PREVIEW = 200


class KvFailed(Exception):
    """A KV call failed; `reply` says why, in the user's words."""

    def __init__(self, error: kv.Error):
        super().__init__(error.value)
        if isinstance(error, kv.Error_Quota):
            self.reply = f"存储已满: {error.value}"
        elif isinstance(error, kv.Error_Denied):
            self.reply = f"存储不可用: {error.value}"
        elif isinstance(error, kv.Error_NotANumber):
            self.reply = f"计数出错: {error.value}"
        else:
            self.reply = f"存储出错: {error.value}"


def call(f, *args):
    """Calls a `kv` function; its `Err` becomes a `KvFailed`."""
    try:
        return f(*args)
    except Err as e:
        raise KvFailed(e.value) from None


def chat_key(msg: Message) -> str:
    """Where the message was said, as a stable key (the discussion's id is the
    only one that changes at a relogin: discussions have no number)."""
    sender = msg.sender.qq if msg.sender.qq is not None else msg.sender.id
    if msg.kind == ChatKind.GROUP and msg.group is not None:
        group = msg.group.number if msg.group.number is not None else msg.group.id
        return f"group:{group}"
    if msg.kind == ChatKind.DISCUSS and msg.discuss is not None:
        return f"discuss:{msg.discuss.id}"
    if msg.kind == ChatKind.SESS:
        return f"sess:{sender}"
    return f"friend:{sender}"


def note_prefix(qq: int) -> str:
    return f"n/{qq}/"


def take_note(qq: int, text: str) -> str:
    seq = call(kv.increment, f"seq/{qq}", 1)
    # A refused `set` leaves a gap in the numbers. Giving the number back
    # (increment by -1) could hand it out twice: another instance may have
    # taken the next one meanwhile for the same sender in another chat.
    call(kv.set, f"{note_prefix(qq)}{seq:08d}", text.encode("utf-8"))
    return f"已记下 #{seq}"


def list_notes(qq: int) -> str:
    keys = call(kv.keys, note_prefix(qq))
    if not keys:
        return "还没有笔记。用 “记 <内容>” 记一条。"
    shown = keys[-LIST_MAX:]
    head = f"你的笔记 ({len(keys)} 条"
    head += f", 最近 {len(shown)} 条):" if len(shown) < len(keys) else "):"
    lines = [head]
    for key in shown:
        value = call(kv.get, key)
        if value is None:  # deleted meanwhile by another instance
            continue
        text = value.decode("utf-8", errors="replace")
        if len(text) > NOTE_PREVIEW:
            text = text[:NOTE_PREVIEW] + "…"
        lines.append(f"{int(key.rsplit('/', 1)[1])}. {text}")
    return "\n".join(lines)


def forget(qq: int) -> str:
    keys = call(kv.keys, note_prefix(qq))
    for key in keys:
        call(kv.delete, key)
    call(kv.delete, f"seq/{qq}")
    return f"已删除 {len(keys)} 条笔记"


def command(msg: Message, seen: Optional[int]) -> Optional[str]:
    """The reply to a command, or None when the message is not one."""
    text = msg.content.strip()
    if text == "count":
        return None if seen is None else f"本聊天已收到 {seen} 条消息"
    word, _, rest = text.partition(" ")
    if word in ("记", "note") and rest.strip():
        action = lambda qq: take_note(qq, rest.strip())
    elif text in ("笔记", "notes"):
        action = list_notes
    elif text in ("清空笔记", "forget"):
        action = forget
    else:
        return None
    if msg.sender.qq is None:
        return "不知道你的 QQ 号，没法记笔记"
    return action(msg.sender.qq)


class WitWorld(WitWorld):
    def init(self, config: List[Tuple[str, str]]) -> None:
        host.log(host.Level.INFO, "notes (python): ready")

    def on_message(self, msg: Message) -> Optional[Decision]:
        seen: Optional[int] = None
        try:
            seen = call(kv.increment, f"c/{chat_key(msg)}", 1)
        except KvFailed as e:
            # Not worth a reply unless asked (`count` answers the error).
            host.log(host.Level.WARN, f"notes: cannot count the message: {e.reply}")
            if msg.content.strip() == "count":
                return Decision(reply=e.reply, shutup=None)
        try:
            reply = command(msg, seen)
        except KvFailed as e:
            reply = e.reply
        return None if reply is None else Decision(reply=reply, shutup=None)

    def on_event(self, event: Event) -> None:
        return None

    def on_timer(self, name: str, payload: str) -> None:
        return None
