//! The e2e allow and deny scenarios through a second real client, testcontainers-rs (bollard
//! underneath), against the throwaway daemon with authobot that `vm/e2e.sh` starts. Skipped,
//! with a message saying so, when the harness did not start one.

use std::io::Write;

use anyhow::{bail, Context, Result};
use authobot_bollard_e2e::{is_plugin_denial, target_from, Target, SKIP_MESSAGE};
use testcontainers::core::{ExecCommand, Mount, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerRequest, GenericImage, ImageExt};

fn target() -> Option<Target> {
    match target_from(|name| std::env::var(name).ok()) {
        Ok(Some(target)) => Some(target),
        Ok(None) => {
            // Straight to the stderr handle: libtest captures eprintln! of passing tests, and
            // a skip has to be seen.
            let _ = writeln!(std::io::stderr(), "{SKIP_MESSAGE}");
            None
        }
        Err(e) => panic!("{e}"),
    }
}

/// A container that says `ready` and then waits.
fn sleeper(target: &Target) -> ContainerRequest<GenericImage> {
    GenericImage::new(&target.image, &target.tag)
        .with_wait_for(WaitFor::message_on_stdout("ready"))
        .with_cmd(["sh", "-c", "echo ready; exec sleep 600"])
}

/// Starting `request` must fail with the plugin's denial, and leave no container behind.
async fn assert_denied(request: ContainerRequest<GenericImage>) -> Result<()> {
    match request.start().await {
        Ok(container) => bail!("the daemon started container {}", container.id()),
        Err(e) if is_plugin_denial(&e.to_string()) => Ok(()),
        Err(e) => bail!("refused, but not by the plugin: {e}"),
    }
}

#[tokio::test]
async fn allows_a_plain_container_with_exec() -> Result<()> {
    let Some(target) = target() else {
        return Ok(());
    };
    let container = sleeper(&target).start().await.context("start")?;
    let mut exec = container
        .exec(ExecCommand::new(["echo", "inside"]))
        .await
        .context("exec")?;
    let stdout = exec.stdout_to_vec().await.context("exec output")?;
    assert_eq!(String::from_utf8_lossy(&stdout), "inside\n");
    container.rm().await.context("rm")?;
    Ok(())
}

#[tokio::test]
async fn allows_a_named_volume() -> Result<()> {
    let Some(target) = target() else {
        return Ok(());
    };
    let container = sleeper(&target)
        .with_mount(Mount::volume_mount("authobot-e2e-tc", "/data"))
        .start()
        .await
        .context("start")?;
    container.rm().await.context("rm")?;
    Ok(())
}

#[tokio::test]
async fn denies_privileged() -> Result<()> {
    let Some(target) = target() else {
        return Ok(());
    };
    assert_denied(sleeper(&target).with_privileged(true)).await
}

#[tokio::test]
async fn denies_bind_mount_of_host_root() -> Result<()> {
    let Some(target) = target() else {
        return Ok(());
    };
    assert_denied(sleeper(&target).with_mount(Mount::bind_mount("/", "/host"))).await
}

#[tokio::test]
async fn denies_cap_add_sys_admin() -> Result<()> {
    let Some(target) = target() else {
        return Ok(());
    };
    assert_denied(sleeper(&target).with_cap_add("SYS_ADMIN")).await
}

#[tokio::test]
async fn denies_seccomp_unconfined() -> Result<()> {
    let Some(target) = target() else {
        return Ok(());
    };
    assert_denied(sleeper(&target).with_security_opt("seccomp=unconfined")).await
}

#[tokio::test]
async fn denies_host_user_namespace() -> Result<()> {
    let Some(target) = target() else {
        return Ok(());
    };
    assert_denied(sleeper(&target).with_userns_mode("host")).await
}
