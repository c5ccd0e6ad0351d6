// A+B, accepted: i64 throughout, whitespace-separated tokens from all of stdin.
use std::io::{self, Read, Write};

fn main() {
    let mut input = String::new();
    io::stdin().read_to_string(&mut input).unwrap();
    let sum: i64 = input.split_ascii_whitespace().map(|t| t.parse::<i64>().unwrap()).sum();
    writeln!(io::stdout(), "{}", sum).unwrap();
}
