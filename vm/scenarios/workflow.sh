# shellcheck shell=bash
#: The ordinary docker workflow under the default policy, end to end with the real CLI: run,
#: run -it, exec, logs, cp both ways, build, commit, volumes, networks, stop, start, rm.

build_image() {
  DOCKER_BUILDKIT=0 dk build -q -t authobot-e2e/built:latest "$E2E_WORK/build-context"
}

scenario_workflow() {
  local ctx="$E2E_WORK/build-context"
  mkdir -p "$ctx"
  printf 'FROM %s\nRUN echo built > /built.txt\nCMD ["cat", "/built.txt"]\n' "$E2E_IMAGE" >"$ctx/Dockerfile"
  printf 'copied in\n' >"$E2E_WORK/cp-in.txt"

  expect_output workflow-run-echo '^hello$' dk run --rm "$E2E_IMAGE" echo hello
  expect_output workflow-run-it 'it works' \
    script -qec "$E2E_DOCKER_CLI run -it --rm $E2E_IMAGE echo it works" /dev/null
  expect_ok workflow-run-detached dk run -d --name wf "$E2E_IMAGE" sh -c 'echo started; exec sleep 600'
  expect_output workflow-ps-lists-it 'wf' dk ps --format '{{.Names}}'
  expect_output workflow-exec '^inside$' dk exec wf echo inside
  expect_output workflow-exec-it 'tty inside' \
    script -qec "$E2E_DOCKER_CLI exec -it wf echo tty inside" /dev/null
  expect_output workflow-logs '^started$' dk logs wf
  expect_ok workflow-cp-into-container dk cp "$E2E_WORK/cp-in.txt" wf:/tmp/cp-in.txt
  expect_output workflow-cp-out-of-container '^copied in$' \
    sh -c "'$E2E_DOCKER_CLI' cp wf:/tmp/cp-in.txt '$E2E_WORK/cp-out.txt' && cat '$E2E_WORK/cp-out.txt'"
  expect_output workflow-inspect '^running$' dk inspect -f '{{.State.Status}}' wf
  expect_ok workflow-top dk top wf
  expect_ok workflow-stop dk stop -t 1 wf
  expect_ok workflow-start dk start wf
  expect_ok workflow-commit dk commit wf authobot-e2e/committed:latest
  expect_ok workflow-build build_image
  expect_output workflow-run-built-image '^built$' dk run --rm authobot-e2e/built:latest
  expect_ok workflow-images dk images

  expect_ok workflow-volume-create dk volume create wfvol
  expect_ok workflow-volume-write dk run --rm -v wfvol:/data "$E2E_IMAGE" sh -c 'echo kept > /data/f'
  expect_output workflow-volume-read '^kept$' dk run --rm --mount source=wfvol,target=/data "$E2E_IMAGE" cat /data/f
  expect_ok workflow-volume-ls dk volume ls

  expect_ok workflow-network-create dk network create wfnet
  expect_ok workflow-network-run dk run -d --name wfpeer --network wfnet "$E2E_IMAGE" sleep 600
  local ip
  ip=$(dk inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' wfpeer 2>/dev/null)
  expect_ok workflow-network-reach-peer dk run --rm --network wfnet "$E2E_IMAGE" ping -c 1 -W 5 "${ip:-no-ip}"

  expect_ok workflow-rm-containers dk rm -f wfpeer
  expect_ok workflow-network-rm dk network rm wfnet
  expect_ok workflow-image-rm dk rmi authobot-e2e/committed:latest authobot-e2e/built:latest
  # wf stays running (with its named volume mounted) for the host-access inspection.
  dk run -d --name wf-volume -v wfvol:/data "$E2E_IMAGE" sleep 600 >/dev/null 2>&1 || true
}
