# shellcheck shell=bash
#: After the escape attempts: docker inspect every container and volume on the daemon and
#: fail on anything that reaches the host (privilege, host paths, host namespaces, devices,
#: added capabilities, security profiles off).

# One line per container, fields separated by '|'.
inspect_template='{{.Name}}|{{.HostConfig.Privileged}}|{{json .HostConfig.Binds}}|{{range .Mounts}}{{.Type}}:{{.Source}} {{end}}|{{json .HostConfig.CapAdd}}|{{.HostConfig.PidMode}}|{{.HostConfig.NetworkMode}}|{{.HostConfig.IpcMode}}|{{.HostConfig.UTSMode}}|{{.HostConfig.UsernsMode}}|{{json .HostConfig.Devices}}|{{json .HostConfig.DeviceCgroupRules}}|{{json .HostConfig.SecurityOpt}}|{{json .HostConfig.Sysctls}}|{{.HostConfig.CgroupParent}}|{{json .HostConfig.VolumesFrom}}'

# host_access_of LINE: prints what in one inspect line reaches the host, nothing if clean.
host_access_of() {
  local name priv binds mounts caps pid net ipc uts userns devices rules secopt sysctls cgparent volfrom
  IFS='|' read -r name priv binds mounts caps pid net ipc uts userns devices rules secopt sysctls cgparent volfrom <<<"$1"
  [ "$priv" = true ] && echo "$name: privileged"
  # A bind whose source is absolute is a host path; `name:/dst` is a named volume.
  case "$binds" in *'["/'* | *',"/'*) echo "$name: host path binds $binds" ;; esac
  case " $mounts" in *" bind:"*) echo "$name: bind mount in $mounts" ;; esac
  [ "$caps" = null ] || [ "$caps" = '[]' ] || echo "$name: capabilities added $caps"
  local mode
  for mode in "$pid" "$net" "$ipc" "$uts" "$userns"; do
    [ "$mode" = host ] && echo "$name: host namespace"
  done
  [ "$devices" = null ] || [ "$devices" = '[]' ] || echo "$name: devices $devices"
  [ "$rules" = null ] || [ "$rules" = '[]' ] || echo "$name: device cgroup rules $rules"
  case "$secopt" in *unconfined* | *disable*) echo "$name: security options $secopt" ;; esac
  [ "$sysctls" = null ] || [ "$sysctls" = '{}' ] || [ -z "$sysctls" ] || echo "$name: sysctls $sysctls"
  [ -z "$cgparent" ] || echo "$name: cgroup parent $cgparent"
  [ "$volfrom" = null ] || [ "$volfrom" = '[]' ] || echo "$name: volumes from $volfrom"
  return 0
}

scenario_host_access() {
  local name=no-container-with-host-access ids findings="" line count=0
  ids=$(dk ps -aq) || {
    fail "$name" "docker ps -aq failed"
    return
  }
  for id in $ids; do
    line=$(dk inspect -f "$inspect_template" "$id") || {
      findings+="$id: inspect failed; "
      continue
    }
    count=$((count + 1))
    findings+=$(host_access_of "$line")
  done
  if [ "$count" -eq 0 ]; then
    fail "$name" "no container to inspect: the workflow scenario should have left some"
  elif [ -n "$findings" ]; then
    fail "$name" "$findings"
  else
    log "inspected $count containers: none reaches the host"
    pass "$name"
  fi

  name=no-volume-binding-a-host-path
  findings=""
  for vol in $(dk volume ls -q); do
    case "$(dk volume inspect -f '{{json .Options}}' "$vol")" in
      *bind* | *device*) findings+="$vol " ;;
    esac
  done
  if [ -n "$findings" ]; then fail "$name" "volumes with bind options: $findings"; else pass "$name"; fi
}

# The detector must be able to fail: fed inspect lines of containers that do reach the host,
# it reports each one; fed a plain container's line, nothing.
scenario_host_access_detector() {
  local clean='/plain|false|["v:/data"]|volume:/var/lib/docker/volumes/v/_data |null|||default|||null|null|null|null||null'
  local -a escaped=(
    '/a|true|null||null|||default|||null|null|null|null||null'
    '/b|false|["v:/data","/:/host"]|null|||default|||null|null|null|null||null'
    '/c|false|null|bind:/etc |null|||default|||null|null|null|null||null'
    '/d|false|null||["SYS_ADMIN"]|||default|||null|null|null|null||null'
    '/e|false|null||null|host||default|||null|null|null|null||null'
    '/f|false|null||null|||default|||[{"PathOnHost":"/dev/kmsg"}]|null|null|null||null'
    '/g|false|null||null|||default|||null|null|["seccomp=unconfined"]|null||null'
  )
  local line missed=""
  [ -z "$(host_access_of "$clean")" ] || missed+="clean container flagged; "
  for line in "${escaped[@]}"; do
    [ -n "$(host_access_of "$line")" ] || missed+="${line%%|*} not flagged; "
  done
  if [ -z "$missed" ]; then pass host-access-detector-self-test; else fail host-access-detector-self-test "$missed"; fi
}
