#[r#loop::main(debug)]
async fn main() {}
