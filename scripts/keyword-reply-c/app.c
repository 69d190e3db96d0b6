// keyword-reply, in C (wit-bindgen c + clang + wasi-libc + the preview-1 adapter).
//
// Config (flattened, dotted keys, in the order the gateway gives them):
//   reply.<keyword> = "<reply>"  a message containing <keyword> gets <reply>; first match wins
//   banned.<n>      = "<word>"   in a group, a message containing <word> gets
//                                `banned_reply` (default 请文明发言) and a mute of
//                                `shutup_seconds` (default 60); checked before keywords
// A message that is exactly `/boom` makes the bot fail on purpose.
//
// Ownership (wit-bindgen C): the arguments of an export belong to the export,
// which frees them; the strings it returns must be malloc'd, because the
// generated post-return function frees them after the gateway has read them.
#include "bot.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_BANNED_REPLY "请文明发言"
#define DEFAULT_SHUTUP_SECONDS 60u

typedef struct {
  char *ptr;  // owned, not NUL-terminated
  size_t len;
} str_t;

typedef struct {
  str_t keyword;
  str_t reply;
} rule_t;

// One instance serves many messages: the configuration lives in globals.
static rule_t *rules;
static size_t rule_count;
static str_t *banned;
static size_t banned_count;
static str_t banned_reply;
static uint32_t shutup_seconds = DEFAULT_SHUTUP_SECONDS;

static str_t str_copy(const uint8_t *ptr, size_t len) {
  str_t s = {malloc(len ? len : 1), len};
  if (!s.ptr) abort();
  memcpy(s.ptr, ptr, len);
  return s;
}

static bool starts_with(const bot_string_t *s, const char *prefix) {
  size_t n = strlen(prefix);
  return s->len >= n && memcmp(s->ptr, prefix, n) == 0;
}

static bool equals(const bot_string_t *s, const char *text) {
  size_t n = strlen(text);
  return s->len == n && memcmp(s->ptr, text, n) == 0;
}

// Byte substring search; for UTF-8 a byte match is a character match.
static bool contains(const bot_string_t *hay, const str_t *needle) {
  if (needle->len == 0) return true;
  if (needle->len > hay->len) return false;
  for (size_t i = 0; i + needle->len <= hay->len; i++) {
    if (hay->ptr[i] == (uint8_t)needle->ptr[0] && memcmp(hay->ptr + i, needle->ptr, needle->len) == 0) {
      return true;
    }
  }
  return false;
}

static void free_state(void) {
  for (size_t i = 0; i < rule_count; i++) {
    free(rules[i].keyword.ptr);
    free(rules[i].reply.ptr);
  }
  for (size_t i = 0; i < banned_count; i++) free(banned[i].ptr);
  free(rules);
  free(banned);
  free(banned_reply.ptr);
  rules = NULL;
  banned = NULL;
  rule_count = banned_count = 0;
  banned_reply = (str_t){NULL, 0};
}

// Sets *err to a malloc'd "keyword-reply: <what>'<value>'" and returns false.
static bool fail(bot_string_t *err, const char *what, const uint8_t *value, size_t len) {
  size_t n = strlen(what);
  char *buf = malloc(n + len + 2);
  if (!buf) abort();
  memcpy(buf, what, n);
  memcpy(buf + n, value, len);
  buf[n + len] = '\'';
  bot_string_dup_n(err, buf, n + len + 1);
  free(buf);
  return false;
}

static bool parse_u32(const bot_string_t *s, uint32_t *out) {
  if (s->len == 0) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < s->len; i++) {
    if (s->ptr[i] < '0' || s->ptr[i] > '9') return false;
    v = v * 10 + (s->ptr[i] - '0');
    if (v > UINT32_MAX) return false;
  }
  *out = (uint32_t)v;
  return true;
}

bool exports_bot_init(bot_list_tuple2_string_string_t *config, bot_string_t *err) {
  free_state();
  shutup_seconds = DEFAULT_SHUTUP_SECONDS;
  rules = calloc(config->len ? config->len : 1, sizeof(rule_t));
  banned = calloc(config->len ? config->len : 1, sizeof(str_t));
  if (!rules || !banned) abort();
  banned_reply = str_copy((const uint8_t *)DEFAULT_BANNED_REPLY, strlen(DEFAULT_BANNED_REPLY));

  bool ok = true;
  for (size_t i = 0; ok && i < config->len; i++) {
    bot_string_t *key = &config->ptr[i].f0;
    bot_string_t *value = &config->ptr[i].f1;
    if (starts_with(key, "reply.")) {
      size_t n = strlen("reply.");
      if (key->len == n) {
        ok = fail(err, "keyword-reply: empty keyword in '", key->ptr, key->len);
        break;
      }
      rules[rule_count].keyword = str_copy(key->ptr + n, key->len - n);
      rules[rule_count].reply = str_copy(value->ptr, value->len);
      rule_count++;
    } else if (starts_with(key, "banned.")) {
      if (value->len == 0) {
        ok = fail(err, "keyword-reply: empty banned word in '", key->ptr, key->len);
        break;
      }
      banned[banned_count++] = str_copy(value->ptr, value->len);
    } else if (equals(key, "banned_reply")) {
      free(banned_reply.ptr);
      banned_reply = str_copy(value->ptr, value->len);
    } else if (equals(key, "shutup_seconds")) {
      if (!parse_u32(value, &shutup_seconds)) {
        ok = fail(err, "keyword-reply: shutup_seconds must be a whole number of seconds, got '", value->ptr,
                  value->len);
      }
    }
  }
  bot_list_tuple2_string_string_free(config);
  if (!ok) {
    free_state();
    return false;
  }

  char line[128];
  snprintf(line, sizeof line, "keyword-reply (c): loaded %zu reply rules and %zu banned words", rule_count,
           banned_count);
  bot_string_t text;
  bot_string_set(&text, line);  // borrowed: imports do not take ownership
  openqq_bot_host_log(OPENQQ_BOT_HOST_LEVEL_INFO, &text);
  return true;
}

static void set_reply(bot_decision_t *ret, const str_t *reply) {
  ret->reply.is_some = true;
  bot_string_dup_n(&ret->reply.val, reply->ptr, reply->len);
}

bool exports_bot_on_message(bot_message_t *msg, bot_decision_t *ret) {
  bool answered = false;
  const bot_string_t *content = &msg->content;

  if (equals(content, "/boom")) {
    fprintf(stderr, "keyword-reply: boom requested\n");
    fflush(stderr);
    __builtin_trap();
  }
  memset(ret, 0, sizeof *ret);
  if (msg->kind == OPENQQ_BOT_TYPES_CHAT_KIND_GROUP) {
    for (size_t i = 0; i < banned_count; i++) {
      if (contains(content, &banned[i])) {
        set_reply(ret, &banned_reply);
        ret->shutup.is_some = true;
        ret->shutup.val = shutup_seconds;
        answered = true;
        break;
      }
    }
  }
  for (size_t i = 0; !answered && i < rule_count; i++) {
    if (contains(content, &rules[i].keyword)) {
      set_reply(ret, &rules[i].reply);
      answered = true;
    }
  }
  bot_message_free(msg);
  return answered;
}
