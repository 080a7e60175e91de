//! Files are read, parsed and linked on every core: the output must not depend on how many
//! cores there are or on which thread finishes first.

use assert_cmd::Command;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");

fn run(threads: &str, format: &str) -> (Option<i32>, String) {
    let out = Command::cargo_bin("poolguard")
        .unwrap()
        .current_dir(FIXTURES)
        .env("RAYON_NUM_THREADS", threads)
        .env("NO_COLOR", "1")
        .args(["check", ".", "--format", format])
        .output()
        .unwrap();
    (out.status.code(), String::from_utf8(out.stdout).unwrap())
}

#[test]
fn every_fixture_at_once_gives_the_same_output_on_one_thread_and_many() {
    for format in ["json", "human", "sarif"] {
        let (code, one) = run("1", format);
        assert_eq!(code, Some(1), "the fixtures hold failing incidents");
        assert!(
            one.len() > 10_000,
            "{format}: a real run over every fixture"
        );
        for threads in ["2", "8"] {
            for _ in 0..2 {
                let (c, many) = run(threads, format);
                assert_eq!(c, code);
                assert!(
                    one == many,
                    "{format} differs between 1 and {threads} threads"
                );
            }
        }
    }
}
