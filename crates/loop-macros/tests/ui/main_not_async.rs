#[r#loop::main]
fn main() {}
