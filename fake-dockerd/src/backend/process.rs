//! Simulated processes: what a command "prints" and how it "exits" in the in-memory engine.
//!
//! The fake engine runs nothing. It knows a handful of commands well enough that the docker
//! CLI's output through it is meaningful (`docker exec c echo hi` prints `hi`); anything else
//! fails the way a shell reports a missing command, so a test can never mistake it for a run.

/// The outcome of a simulated command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Simulated {
    /// What it wrote to standard output.
    pub stdout: Vec<u8>,
    /// What it wrote to standard error.
    pub stderr: Vec<u8>,
    /// Its exit code, or `None` for a command that keeps running until it is stopped.
    pub exit_code: Option<i64>,
}

/// Simulates `argv`: `echo ARGS` prints its arguments, `true` and `false` exit 0 and 1,
/// `sleep` (and an empty command, an image's unknown default) runs until stopped; any other
/// command exits 127 with a message on stderr. A leading directory (`/bin/echo`) is ignored.
pub fn simulate(argv: &[String]) -> Simulated {
    let Some((program, args)) = argv.split_first() else {
        return running();
    };
    let name = program.rsplit('/').next().unwrap_or(program);
    match name {
        "echo" => Simulated {
            stdout: format!("{}\n", args.join(" ")).into_bytes(),
            stderr: Vec::new(),
            exit_code: Some(0),
        },
        "true" => exited(0),
        "false" => exited(1),
        "sleep" => running(),
        _ => Simulated {
            stdout: Vec::new(),
            stderr: format!(
                "fake-dockerd: {program}: command not simulated (known: echo, true, false, sleep)\n"
            )
            .into_bytes(),
            exit_code: Some(127),
        },
    }
}

fn running() -> Simulated {
    Simulated {
        stdout: Vec::new(),
        stderr: Vec::new(),
        exit_code: None,
    }
}

fn exited(code: i64) -> Simulated {
    Simulated {
        stdout: Vec::new(),
        stderr: Vec::new(),
        exit_code: Some(code),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn echo_prints_its_arguments_joined_by_spaces() {
        let run = simulate(&argv(&["/bin/echo", "hello", "world"]));
        assert_eq!(run.stdout, b"hello world\n");
        assert_eq!(run.exit_code, Some(0));
    }

    #[test]
    fn false_exits_one_without_output() {
        assert_eq!(simulate(&argv(&["false"])), exited(1));
    }

    #[test]
    fn sleep_and_an_empty_command_keep_running() {
        assert_eq!(simulate(&argv(&["sleep", "1000"])).exit_code, None);
        assert_eq!(simulate(&[]).exit_code, None);
    }

    #[test]
    fn unknown_command_exits_127_and_says_it_was_not_simulated() {
        let run = simulate(&argv(&["ls", "/"]));
        assert_eq!(run.exit_code, Some(127));
        assert!(String::from_utf8_lossy(&run.stderr).contains("ls: command not simulated"));
    }
}
