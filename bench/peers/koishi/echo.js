// Koishi echo bot for `openqq-bench peers`: the same bot as openqq's
// `scripts/echo` (echo.wasm): `ping` (trailing spaces and newlines dropped)
// gets `pong` in the chat it came from; anything else passes.
//
// OneBot v11 over reverse WebSocket (`ws-reverse`): Koishi serves `/onebot`
// and the load generator dials it as NapCat would. The adapter is
// koishi-plugin-adapter-onebot, the one for Koishi 4.18
// (@koishijs/plugin-adapter-onebot 5.8 is built for an older Satori and
// never registers its route). Started by `openqq-bench peers` as
// `node echo.js` with NODE_PATH pointing at target/peers/koishi/node_modules
// (bench/peers/setup.sh) and HOST, PORT, SELF_ID, ONEBOT_ACCESS_TOKEN in the
// environment.
const { Context } = require('koishi')
// Seen from CommonJS, each package's plugin is its `default` export.
const server = require('@koishijs/plugin-server').default
const http = require('@koishijs/plugin-http').default
const onebot = require('koishi-plugin-adapter-onebot').default

const env = (name, fallback) => process.env[name] || fallback

const app = new Context()
// What Koishi's loader would plug in first: the adapter's bot needs `http`,
// its ws-reverse needs `server`; without them it silently never starts.
app.plugin(http)
app.plugin(server, { host: env('HOST', '127.0.0.1'), port: Number(env('PORT', '8080')) })
app.plugin(onebot, {
  protocol: 'ws-reverse',
  path: '/onebot',
  selfId: env('SELF_ID', '1234567'),
  token: env('ONEBOT_ACCESS_TOKEN', ''),
})
app.middleware((session, next) => {
  if (session.content !== undefined && session.content.replace(/[ \r\n]+$/, '') === 'ping') {
    return 'pong'
  }
  return next()
})
app.start()
