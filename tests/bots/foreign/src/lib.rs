//! A component of a foreign world (`example:greeter`), for the tests of
//! `openqq check` and of loading: it must be refused with a clear reason.

wit_bindgen::generate!({ world: "greeter", path: "wit" });

struct Greeter;

impl Guest for Greeter {
    fn greet(name: String) -> String {
        format!("hello, {name}")
    }
}

export!(Greeter);
