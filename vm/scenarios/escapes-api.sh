# shellcheck shell=bash
#: Host-escape attempts the CLI cannot spell, sent as raw API calls with curl: encoded paths,
#: queries that look like paths, keys in other cases and Unicode folds, merged duplicates,
#: escaped keys, a single-string CapAdd, bodies of 1 MiB and more, chunked bodies, an old API
#: version start with a HostConfig body, and privileged exec and bind volumes by API.

json_post() { printf '%s' "$1" >"$E2E_WORK/body.json"; }

scenario_escapes_api() {
  local img=$E2E_IMAGE ct='Content-Type: application/json'
  local -a post=(-H "$ct" --data-binary "@$E2E_WORK/body.json")

  json_post "{\"Image\":\"$img\",\"HostConfig\":{\"Binds\":[\"/:/host\"]}}"
  expect_api_denied escape-api-encoded-slash-in-path POST '/v1.41/containers%2Fcreate' "${post[@]}"
  json_post "{\"Image\":\"$img\",\"HostConfig\":{\"Privileged\":true}}"
  expect_api_denied escape-api-encoded-letters-in-path POST '/%63ontainers/%63reate' "${post[@]}"
  expect_api_denied escape-api-query-looks-like-auth POST '/containers/create?x=/auth' "${post[@]}"
  expect_api_denied escape-api-unversioned-path POST '/containers/create' "${post[@]}"
  expect_api_denied escape-api-json-with-charset POST '/v1.41/containers/create' \
    -H 'Content-Type: application/json; charset=utf-8' --data-binary "@$E2E_WORK/body.json"
  expect_api_denied escape-api-no-content-type POST '/v1.41/containers/create' \
    -H 'Content-Type:' --data-binary "@$E2E_WORK/body.json"
  expect_api_denied escape-api-chunked-body POST '/v1.41/containers/create' \
    -H "$ct" -H 'Transfer-Encoding: chunked' --data-binary "@$E2E_WORK/body.json"

  json_post "{\"image\":\"$img\",\"hostconfig\":{\"privileged\":true}}"
  expect_api_denied escape-api-lower-case-keys POST '/v1.41/containers/create' "${post[@]}"
  json_post "{\"Image\":\"$img\",\"HostConfig\":{\"Bindſ\":[\"/:/host\"]}}"
  expect_api_denied escape-api-unicode-folded-key POST '/v1.41/containers/create' "${post[@]}"
  json_post "{\"Image\":\"$img\",\"HostConfig\":{\"\\u0050rivileged\":true}}"
  expect_api_denied escape-api-escaped-key POST '/v1.41/containers/create' "${post[@]}"
  json_post "{\"Image\":\"$img\",\"HostConfig\":{\"Privileged\":true},\"hostconfig\":{\"Memory\":0}}"
  expect_api_denied escape-api-duplicate-objects-merge POST '/v1.41/containers/create' "${post[@]}"
  json_post "{\"Image\":\"$img\",\"HostConfig\":{\"Privileged\":true,\"Privileged\":null}}"
  expect_api_denied escape-api-null-keeps-bool POST '/v1.41/containers/create' "${post[@]}"
  json_post "{\"Image\":\"$img\",\"HostConfig\":{\"CapAdd\":\"sys_admin\"}}"
  expect_api_denied escape-api-cap-add-single-string POST '/v1.41/containers/create' "${post[@]}"
  json_post "{\"Image\":\"$img\",\"HostConfig\":{\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"//\",\"Target\":\"/host\"}]}}"
  expect_api_denied escape-api-mount-bind-double-slash POST '/v1.41/containers/create' "${post[@]}"

  # 1 MiB and more: dockerd 20.10 forwards no body at all; the plugin must deny blind.
  {
    printf '{"Image":"%s","HostConfig":{"Privileged":true},"Labels":{"pad":"' "$img"
    head -c 1100000 /dev/zero | tr '\0' a
    printf '"}}'
  } >"$E2E_WORK/body.json"
  expect_api_denied escape-api-body-over-1mib POST '/v1.41/containers/create' "${post[@]}"
  expect_api_denied escape-api-body-over-1mib-chunked POST '/v1.41/containers/create' \
    -H "$ct" -H 'Transfer-Encoding: chunked' --data-binary "@$E2E_WORK/body.json"

  # API < 1.24 still applies a HostConfig given to start.
  if dk create --name oldstart "$img" sleep 600 >/dev/null 2>&1; then
    json_post '{"Privileged":true,"Binds":["/:/host"]}'
    expect_api_denied escape-api-old-version-start-hostconfig POST '/v1.23/containers/oldstart/start' "${post[@]}"
  else
    fail escape-api-old-version-start-hostconfig "could not create the container to start"
  fi

  json_post '{"cmd":["id"],"privileged":true}'
  expect_api_denied escape-api-exec-privileged-lower-case POST '/v1.41/containers/wf/exec' "${post[@]}"
  json_post '{"Name":"apivol","Driver":"local","DriverOpts":{"type":"none","o":"bind","device":"/"}}'
  expect_api_denied escape-api-volume-local-bind POST '/v1.41/volumes/create' "${post[@]}"
  json_post '{"name":"apivol2","driveropts":{"type":"none","o":"bind","device":"/etc"}}'
  expect_api_denied escape-api-volume-local-bind-lower-case POST '/v1.41/volumes/create' "${post[@]}"
}
