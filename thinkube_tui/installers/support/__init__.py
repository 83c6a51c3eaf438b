"""What the component installers share. None of these is a component: those are the modules one
level up, one per catalog id, found by id (`installers.installer`).

- `objects`: apply only what differs, wait with readable errors, `wait_crds`, `MANAGED_BY`.
- `secret_objects`: Secrets read, written and kept (never rotated); `env_from_secret`.
- `components`: another component's namespace and hostnames, whether it is in this run.
- `postgres`, `minio`, `keycloak`: the shared-service contracts (`database_for`, `bucket_for`,
  `oidc_client_for`), one module each.
- `microk8s`, `nodes`: the snap, addons, node labels and taints, files on nodes.
- `net`, `ca`: ingress controllers and addresses; the platform's own CA.
- `cicd`, `workspace`, `apps`: what the CI/CD, development/monitoring and application groups share.
- `locks`: per-run locks for lists several installers extend.

The contract every installer gets (`InstallContext`, `Cluster`) is `installers.base`.
"""
