#[r#loop::main(loops = 0)]
async fn main() {}
