"""NoneBot2 echo bot for `openqq-bench peers`: the same bot as openqq's
`scripts/echo` (echo.wasm): `ping` (trailing spaces and newlines dropped)
gets `pong` in the chat it came from; anything else passes.

OneBot v11 over reverse WebSocket: NoneBot serves `/onebot/v11/ws` (FastAPI
on uvicorn) and the load generator dials it as NapCat would. Started by
`openqq-bench peers` with HOST, PORT, ONEBOT_ACCESS_TOKEN and LOG_LEVEL in
the environment (NoneBot reads its config from there).
"""

import nonebot
from nonebot import on_message
from nonebot.adapters.onebot.v11 import Adapter, Event
from nonebot.rule import Rule

nonebot.init()
nonebot.get_driver().register_adapter(Adapter)


async def is_ping(event: Event) -> bool:
    return event.get_type() == "message" and event.get_plaintext().rstrip(" \r\n") == "ping"


echo = on_message(rule=Rule(is_ping), block=True)


@echo.handle()
async def _() -> None:
    await echo.finish("pong")


if __name__ == "__main__":
    nonebot.run()
