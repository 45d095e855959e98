#[r#loop::test(paused, fast)]
async fn unknown_option() {}

fn main() {}
