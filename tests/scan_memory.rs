//! Larger than memory: `pqc query --scan` answers over data several times
//! larger than a memory limit it runs under (a memory cgroup), where the
//! same query loading the table into memory is killed by that limit.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common;

/// The limit the scan runs under.
const LIMIT: u64 = 64 << 20;

/// A memory cgroup of this process's, removed when dropped: v1
/// (`memory.limit_in_bytes`) or v2 (`memory.max`).
struct MemoryCgroup {
    dir: PathBuf,
    peak_file: Option<PathBuf>,
}

impl MemoryCgroup {
    fn new(limit: u64) -> Option<MemoryCgroup> {
        let name = format!("pqc-scan-test-{}", std::process::id());
        let v1 = Path::new("/sys/fs/cgroup/memory");
        let v2 = Path::new("/sys/fs/cgroup");
        let v2_memory = std::fs::read_to_string(v2.join("cgroup.controllers"))
            .is_ok_and(|c| c.split_whitespace().any(|c| c == "memory"));
        let (dir, limit_file, peak) = if v1.join("memory.limit_in_bytes").exists() {
            (
                v1.join(&name),
                "memory.limit_in_bytes",
                Some("memory.max_usage_in_bytes"),
            )
        } else if v2_memory {
            (v2.join(&name), "memory.max", Some("memory.peak"))
        } else {
            return None;
        };
        std::fs::create_dir(&dir).ok()?;
        let group = MemoryCgroup {
            peak_file: peak.map(|p| dir.join(p)),
            dir,
        };
        std::fs::write(group.dir.join(limit_file), limit.to_string()).ok()?;
        Some(group)
    }

    /// Runs `program` with `args` inside the group: a shell moves itself
    /// in, then becomes the program (no code of ours between fork and exec).
    fn run(&self, program: &Path, args: &[String]) -> Output {
        Command::new("sh")
            .arg("-c")
            .arg("echo $$ > \"$0\" && exec \"$@\"")
            .arg(self.dir.join("cgroup.procs"))
            .arg(program)
            .args(args)
            .output()
            .unwrap()
    }

    fn peak(&self) -> Option<u64> {
        std::fs::read_to_string(self.peak_file.as_ref()?)
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

impl Drop for MemoryCgroup {
    fn drop(&mut self) {
        // Empty once its processes exited; the kernel refuses it otherwise.
        let _ = std::fs::remove_dir(&self.dir);
    }
}

fn pqc() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pqc"))
}

#[test]
fn a_scan_answers_over_data_several_times_larger_than_its_memory_limit() {
    let Some(group) = MemoryCgroup::new(LIMIT) else {
        common::available("a writable memory cgroup (run as root)", false);
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("big.csv");
    let generated = pqc()
        .args(["gen", "--rows", "4000000", "--seed", "3", "--out"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        generated.status.success(),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );
    let file_bytes = std::fs::metadata(&data).unwrap().len();
    assert!(
        file_bytes > 3 * LIMIT,
        "{file_bytes} bytes of data for a limit of {LIMIT}"
    );

    let query = |scan: bool| -> Vec<String> {
        let mut args: Vec<String> = ["--quiet", "query"].map(String::from).to_vec();
        args.push(data.display().to_string());
        for arg in [
            "--group-by",
            "category",
            "--agg",
            "sum:units",
            "--agg",
            "len",
            "--filter",
            "year>=2023",
            "--format",
            "csv",
        ] {
            args.push(arg.to_owned());
        }
        if scan {
            args.push("--scan".to_owned());
        }
        args
    };
    let program = Path::new(env!("CARGO_BIN_EXE_pqc"));
    // The answer, computed without a limit on the table loaded in memory.
    let expected = pqc().args(query(false)).output().unwrap();
    assert!(
        expected.status.success(),
        "{}",
        String::from_utf8_lossy(&expected.stderr)
    );

    let scanned = group.run(program, &query(true));
    assert!(
        scanned.status.success(),
        "the scan failed under {LIMIT} bytes: {:?} {}",
        scanned.status,
        String::from_utf8_lossy(&scanned.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&scanned.stdout),
        String::from_utf8_lossy(&expected.stdout)
    );
    if let Some(peak) = group.peak() {
        assert!(peak <= LIMIT, "peak {peak} over the limit {LIMIT}");
    }

    // The limit bites: loading the table under it does not finish.
    let loaded = group.run(program, &query(false));
    assert!(
        !loaded.status.success(),
        "loading {file_bytes} bytes fit in {LIMIT}"
    );
}
