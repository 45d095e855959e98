#[r#loop::test(seed = "seven")]
async fn seed_not_a_number() {}

fn main() {}
