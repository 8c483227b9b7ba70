/// Why each field of a runtime's container spec that confine does not carry over is left out:
/// what `confine profile import` writes under "Not carried over" (ProfileImport.swift).
enum KubernetesFields {
    /// core/v1 Container.
    static let container: [String: String] = [
        "image": "the image is not run: confine runs the command given after --, on this machine's files",
        "command": "the command is what is given to confine after --",
        "args": "the command is what is given to confine after --",
        "ports": "ports are not published: a service listens on the host's network (or the run's own with --network none)",
        "envFrom": "ConfigMaps and Secrets are not read; set the variables with --env or env:",
        "livenessProbe": "the kubelet's probes do not run (confine load --ready checks readiness)",
        "readinessProbe": "the kubelet's probes do not run (confine load --ready checks readiness)",
        "startupProbe": "the kubelet's probes do not run (confine load --ready checks readiness)",
        "lifecycle": "postStart and preStop hooks do not run",
        "terminationMessagePath": "no termination message is kept",
        "terminationMessagePolicy": "no termination message is kept",
        "imagePullPolicy": "no image is pulled",
        "stdin": "the target gets confine's own stdin",
        "stdinOnce": "the target gets confine's own stdin",
        "tty": "the target gets confine's own terminal",
        "resizePolicy": "limits are not resized during a run",
        "restartPolicy": "a run is not restarted",
        "volumeDevices": "block devices are not attached",
    ]
    /// core/v1 SecurityContext (the container's).
    static let securityContext: [String: String] = [
        "privileged": "a privileged container is not reproduced (the profile's capabilities and seccomp apply)",
        "allowPrivilegeEscalation": "no_new_privs is set whenever a seccomp profile is, as runc does; not otherwise",
        "seLinuxOptions": "no SELinux label is applied",
        "appArmorProfile": "no AppArmor profile is applied",
        "windowsOptions": "Windows only",
        "procMount": "/proc is the host's, with Docker's read-only paths under container profiles",
    ]
    /// core/v1 PodSecurityContext.
    static let podSecurityContext: [String: String] = [
        "sysctls": "namespaced sysctls are not set: the host's values apply",
        "fsGroupChangePolicy": "volume ownership is not changed",
        "seLinuxOptions": "no SELinux label is applied",
        "seLinuxChangePolicy": "no SELinux label is applied",
        "appArmorProfile": "no AppArmor profile is applied",
        "windowsOptions": "Windows only",
        "supplementalGroupsPolicy": "the groups are set as listed (Merge and Strict alike: no image /etc/group is read)",
    ]
    /// core/v1 PodSpec.
    static let pod: [String: String] = {
        var fields: [String: String] = [
            "initContainers": "init containers do not run; import one with --container to run it on its own",
            "ephemeralContainers": "ephemeral debug containers do not apply",
            "restartPolicy": "a run is not restarted",
            "terminationGracePeriodSeconds": "confine stops the target with its own grace period (confine load --grace)",
            "activeDeadlineSeconds": "use --timeout",
            "dnsPolicy": "name resolution is the host's",
            "dnsConfig": "name resolution is the host's",
            "hostAliases": "name resolution is the host's (/etc/hosts is not changed)",
            "serviceAccountName": "no service account token is mounted",
            "serviceAccount": "no service account token is mounted",
            "automountServiceAccountToken": "no service account token is mounted",
            "imagePullSecrets": "no image is pulled",
            "hostPID": "the run shares the host's pid namespace",
            "hostIPC": "the run shares the host's IPC namespace (but /dev/shm is its own under container profiles)",
            "shareProcessNamespace": "the run shares the host's pid namespace",
            "subdomain": "only the hostname is set",
            "setHostnameAsFQDN": "only the hostname is set",
            "runtimeClassName": "the run uses the host's kernel and runtime",
            "enableServiceLinks": "no service environment variables are made",
            "os": "the run is on this machine's Linux",
            "hostUsers": "no user namespace: ids are the host's",
            "resourceClaims": "dynamic resources are not allocated",
            "resources": "pod-level resources are not applied; the container's limits are",
        ]
        for key in ["nodeSelector", "nodeName", "affinity", "tolerations", "schedulerName", "priority", "priorityClassName",
                    "preemptionPolicy", "topologySpreadConstraints", "overhead", "readinessGates", "schedulingGates"] {
            fields[key] = "scheduling does not apply to a run on one machine"
        }
        return fields
    }()
}

enum ComposeFields {
    /// Compose service keys confine does not carry, with the reason (compose-spec service fields).
    static let service: [String: String] = {
        var fields: [String: String] = [
            "image": "the image is not run: confine runs the command given after --, on this machine's files",
            "build": "the image is not built",
            "command": "the command is what is given to confine after --",
            "entrypoint": "the command is what is given to confine after --",
            "ports": "ports are not published: a service listens on the host's network",
            "expose": "ports are not published: a service listens on the host's network",
            "depends_on": "other services are not started",
            "links": "other services are not started",
            "external_links": "other services are not started",
            "healthcheck": "the health check does not run (confine load --ready checks readiness)",
            "restart": "a run is not restarted",
            "container_name": "the run has no container name",
            "labels": "labels change nothing in a run",
            "logging": "output goes to confine's stdout and stderr",
            "networks": "the network is the host's (or none); Compose networks are not made",
            "dns": "name resolution is the host's",
            "dns_search": "name resolution is the host's",
            "dns_opt": "name resolution is the host's",
            "extra_hosts": "name resolution is the host's (/etc/hosts is not changed)",
            "secrets": "secrets are not mounted",
            "configs": "configs are not mounted",
            "stop_signal": "confine stops the target with SIGTERM, then SIGKILL",
            "stop_grace_period": "confine stops the target with its own grace period (confine load --grace)",
            "init": "no init process is inserted",
            "pid": "the run shares the host's pid namespace",
            "ipc": "the run shares the host's IPC namespace (but /dev/shm is its own under container profiles)",
            "sysctls": "namespaced sysctls are not set: the host's values apply",
            "privileged": "a privileged container is not reproduced (the profile's capabilities and seccomp apply)",
            "mem_reservation": "a reservation is a scheduling hint, not a limit",
            "oom_kill_disable": "the OOM killer stays on, as it does for a pod",
            "oom_score_adj": "the target keeps confine's OOM score",
            "cpu_shares": "CPU weight is not set; only the quota is",
            "cpu_count": "Windows only",
            "cpu_percent": "Windows only",
            "cpu_rt_runtime": "real-time scheduling is not set",
            "cpu_rt_period": "real-time scheduling is not set",
            "blkio_config": "block I/O weights and limits are not set",
            "device_cgroup_rules": "device rules are not set",
            "devices": "devices are not passed through",
            "platform": "the run is on this machine's platform",
            "profiles": "Compose profiles choose services; import one with --service",
            "pull_policy": "no image is pulled",
            "scale": "import runs one replica; --copies N starts several in one limit",
            "stdin_open": "the target gets confine's own stdin",
            "tty": "the target gets confine's own terminal",
            "userns_mode": "no user namespace: ids are the host's",
            "cgroup": "the run has its own cgroup below confine's",
            "cgroup_parent": "the run has its own cgroup below confine's",
            "isolation": "Windows only",
            "domainname": "only the hostname is set",
            "mac_address": "the network is the host's",
            "volumes_from": "other services' volumes are not mounted",
            "runtime": "the run uses the host's kernel and runtime",
            "storage_opt": "no storage driver options apply",
            "annotations": "annotations change nothing in a run",
            "attach": "output goes to confine's stdout and stderr",
            "develop": "Compose Watch does not apply",
            "extends": "extends is not followed: import the merged file (docker compose config)",
            "label_file": "labels change nothing in a run",
            "models": "models are not provided",
            "post_start": "lifecycle hooks do not run",
            "pre_stop": "lifecycle hooks do not run",
            "gpus": "GPUs are not passed through",
            "credential_spec": "Windows only",
            "memswap_limit": "",
        ]
        fields.removeValue(forKey: "memswap_limit")
        return fields
    }()
}
