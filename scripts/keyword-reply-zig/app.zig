//! keyword-reply, in Zig (the C bindings of `wit-bindgen c`, seen through
//! `zig translate-c`; Zig 0.17 has no @cImport).
//!
//! Config (flattened, dotted keys, in the order the gateway gives them):
//!   reply.<keyword> = "<reply>"  a message containing <keyword> gets <reply>; first match wins
//!   banned.<n>      = "<word>"   in a group, a message containing <word> gets
//!                                `banned_reply` (default 请文明发言) and a mute of
//!                                `shutup_seconds` (default 60); checked before keywords
//! A message that is exactly `/boom` makes the bot fail on purpose.
//!
//! Ownership (wit-bindgen C): the arguments of an export belong to the export,
//! which frees them; the strings it returns must come from malloc, because
//! the generated post-return function frees them.
const std = @import("std");
const c = @import("bot_c.zig");

const default_banned_reply = "请文明发言";
const default_shutup_seconds: u32 = 60;

const Rule = struct { keyword: []u8, reply: []u8 };

// One instance serves many messages: the configuration lives in globals.
const gpa = std.heap.c_allocator;
var rules_buf: []Rule = &.{}; // capacity: one per config entry
var rules: []Rule = &.{}; // the loaded prefix of rules_buf
var banned_buf: [][]u8 = &.{};
var banned: [][]u8 = &.{};
var banned_reply: []u8 = &.{};
var shutup_seconds: u32 = default_shutup_seconds;

fn slice(s: c.bot_string_t) []const u8 {
    if (s.len == 0) return "";
    return s.ptr[0..s.len];
}

fn freeState() void {
    for (rules) |r| {
        gpa.free(r.keyword);
        gpa.free(r.reply);
    }
    for (banned) |w| gpa.free(w);
    gpa.free(rules_buf);
    gpa.free(banned_buf);
    gpa.free(banned_reply);
    rules_buf = &.{};
    rules = &.{};
    banned_buf = &.{};
    banned = &.{};
    banned_reply = &.{};
    shutup_seconds = default_shutup_seconds;
}

/// A whole number 0..=4294967295, digits only (no sign, no underscores).
fn parseSeconds(text: []const u8) ?u32 {
    if (text.len == 0) return null;
    var v: u64 = 0;
    for (text) |ch| {
        if (ch < '0' or ch > '9') return null;
        v = v * 10 + (ch - '0');
        if (v > std.math.maxInt(u32)) return null;
    }
    return @intCast(v);
}

const InitError = error{ EmptyKeyword, EmptyBannedWord, BadSeconds, OutOfMemory };

fn load(config: []const c.bot_tuple2_string_string_t, bad: *[]const u8) InitError!void {
    rules_buf = try gpa.alloc(Rule, config.len);
    rules = rules_buf[0..0];
    banned_buf = try gpa.alloc([]u8, config.len);
    banned = banned_buf[0..0];
    banned_reply = try gpa.dupe(u8, default_banned_reply);
    for (config) |entry| {
        const key = slice(entry.f0);
        const value = slice(entry.f1);
        bad.* = key;
        if (std.mem.startsWith(u8, key, "reply.")) {
            const keyword = key["reply.".len..];
            if (keyword.len == 0) return error.EmptyKeyword;
            const keyword_copy = try gpa.dupe(u8, keyword);
            const reply_copy = try gpa.dupe(u8, value);
            rules_buf[rules.len] = .{ .keyword = keyword_copy, .reply = reply_copy };
            rules = rules_buf[0 .. rules.len + 1];
        } else if (std.mem.startsWith(u8, key, "banned.")) {
            if (value.len == 0) return error.EmptyBannedWord;
            banned_buf[banned.len] = try gpa.dupe(u8, value);
            banned = banned_buf[0 .. banned.len + 1];
        } else if (std.mem.eql(u8, key, "banned_reply")) {
            gpa.free(banned_reply);
            banned_reply = try gpa.dupe(u8, value);
        } else if (std.mem.eql(u8, key, "shutup_seconds")) {
            bad.* = value;
            shutup_seconds = parseSeconds(value) orelse return error.BadSeconds;
        }
    }
}

fn setString(out: *c.bot_string_t, text: []const u8) void {
    c.bot_string_dup_n(out, text.ptr, text.len); // malloc'd copy
}

export fn exports_bot_init(config: [*c]c.bot_list_tuple2_string_string_t, err: [*c]c.bot_string_t) bool {
    defer c.bot_list_tuple2_string_string_free(config);
    freeState();
    const entries: []const c.bot_tuple2_string_string_t = if (config.*.len == 0) &.{} else config.*.ptr[0..config.*.len];
    var bad: []const u8 = "";
    load(entries, &bad) catch |e| {
        const text = switch (e) {
            error.EmptyKeyword => std.fmt.allocPrint(gpa, "keyword-reply: empty keyword in '{s}'", .{bad}),
            error.EmptyBannedWord => std.fmt.allocPrint(gpa, "keyword-reply: empty banned word in '{s}'", .{bad}),
            error.BadSeconds => std.fmt.allocPrint(gpa, "keyword-reply: shutup_seconds must be a whole number of seconds, got '{s}'", .{bad}),
            error.OutOfMemory => @trap(),
        } catch @trap();
        setString(err, text);
        gpa.free(text);
        freeState();
        return false;
    };

    var buf: [128]u8 = undefined;
    const line = std.fmt.bufPrint(&buf, "keyword-reply (zig): loaded {d} reply rules and {d} banned words", .{ rules.len, banned.len }) catch unreachable;
    var text = c.bot_string_t{ .ptr = line.ptr, .len = line.len }; // borrowed by the import
    c.openqq_bot_host_log(c.OPENQQ_BOT_HOST_LEVEL_INFO, &text);
    return true;
}

export fn exports_bot_on_message(msg: [*c]c.bot_message_t, ret: [*c]c.bot_decision_t) bool {
    defer c.bot_message_free(msg);
    const content = slice(msg.*.content);
    if (std.mem.eql(u8, content, "/boom")) {
        const boom = "keyword-reply: boom requested\n";
        _ = std.c.write(2, boom, boom.len);
        @trap();
    }
    ret.* = .{};
    if (msg.*.kind == c.OPENQQ_BOT_TYPES_CHAT_KIND_GROUP) {
        for (banned) |word| {
            if (std.mem.indexOf(u8, content, word) != null) {
                ret.*.reply.is_some = true;
                setString(&ret.*.reply.val, banned_reply);
                ret.*.shutup = .{ .is_some = true, .val = shutup_seconds };
                return true;
            }
        }
    }
    for (rules) |rule| {
        if (std.mem.indexOf(u8, content, rule.keyword) != null) {
            ret.*.reply.is_some = true;
            setString(&ret.*.reply.val, rule.reply);
            return true;
        }
    }
    return false;
}
