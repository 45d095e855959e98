#[r#loop::test]
fn not_async() {}

fn main() {}
