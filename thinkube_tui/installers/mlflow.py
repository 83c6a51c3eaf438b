"""5.11 MLflow: community-charts' chart, metadata in the shared PostgreSQL, artifacts in MinIO,
the web UI behind Keycloak.

- Database: `database_for` (role + database `mlflow`, password in Secret `mlflow/mlflow-db`),
  handed to the chart by reference: `backendStore.existingDatabaseSecret` (name, usernameKey,
  passwordKey), `backendStore.postgres.{enabled,host,port,database}`, and
  `backendStore.databaseMigration` (the chart runs `mlflow db upgrade` first).
- Artifacts: `bucket_for` (bucket `mlflow`, access key in Secret `mlflow/mlflow-s3`), by
  reference: `artifactRoot.s3.existingSecret` (name, keyOfAccessKeyId, keyOfSecretAccessKey),
  `extraEnvVars.MLFLOW_S3_ENDPOINT_URL` (MinIO's in-cluster endpoint) and
  `artifactRoot.proxiedArtifactStorage` (`serveArtifacts`: clients up- and download through the
  tracking server and need no S3 credentials).
- SSO: the chart's authentication options are MLflow's own basic auth and LDAP (docs page
  "Authentication Configuration"); newer chart versions also carry an oauth2-proxy sidecar,
  whose values still want the client secret inline. So Keycloak is put in front the
  ingress-nginx way (`apps.oauth2_proxy`): an oauth2-proxy at `mlflow.<domain>/oauth2`, and
  auth annotations on the chart's own Ingress. The chart keeps its Ingress, so it also keeps
  adding `mlflow.<domain>` to MLflow's allowed Host headers. Inside the cluster (notebooks,
  KServe) MLflow is used without SSO at `http://mlflow.mlflow.svc.cluster.local:5000`.

Chart values: https://community-charts.github.io/docs/charts/mlflow/usage ,
.../postgresql-backend-installation (existingDatabaseSecret), .../aws-s3-integration
(artifactRoot.s3.existingSecret, MLFLOW_S3_ENDPOINT_URL), and the chart's values.yaml
(https://github.com/community-charts/helm-charts/blob/main/charts/mlflow/values.yaml).
"""

from __future__ import annotations

from typing import Any

from .base import InstallContext
from .support.apps import auth_annotations, oauth2_proxy
from .support.components import hostname
from .support.keycloak import oidc_client_for
from .support.minio import bucket_for
from .support.objects import ensure_namespace, rollout
from .support.postgres import database_for
from .support.uninstall import bucket_user_gone, database_released, helm_release_gone, namespace_gone, oidc_client_gone

NAME = "mlflow"  # release; the chart's fullname, Deployment and Service (port 5000)
PORT = 5000


def chart_values(
    ctx: InstallContext,
    *,
    db_secret: str,
    db_host: str,
    db_port: int,
    database: str,
    s3_secret: str,
    bucket: str,
    endpoint: str,
) -> dict[str, Any]:
    c = ctx.config
    host = hostname(ctx)
    return {
        "fullnameOverride": NAME,
        "replicaCount": int(c["replicas"]),
        # the Bitnami subcharts stay off: MLflow uses the shared PostgreSQL and MinIO
        "postgresql": {"enabled": False},
        "mysql": {"enabled": False},
        "minio": {"enabled": False},
        "backendStore": {
            "databaseMigration": True,
            "databaseConnectionCheck": True,
            "postgres": {"enabled": True, "host": db_host, "port": db_port, "database": database},
            "existingDatabaseSecret": {"name": db_secret, "usernameKey": "username", "passwordKey": "password"},
        },
        "artifactRoot": {
            "proxiedArtifactStorage": bool(c["serveArtifacts"]),
            "s3": {
                "enabled": True,
                "bucket": bucket,
                "existingSecret": {
                    "name": s3_secret,
                    "keyOfAccessKeyId": "AWS_ACCESS_KEY_ID",
                    "keyOfSecretAccessKey": "AWS_SECRET_ACCESS_KEY",
                },
            },
        },
        "extraEnvVars": {"MLFLOW_S3_ENDPOINT_URL": endpoint},
        "ingress": {
            "enabled": True,
            "className": "nginx",
            "annotations": auth_annotations(NAME, ctx.component.namespace),
            "hosts": [{"host": host, "paths": [{"path": "/", "pathType": "Prefix"}]}],
            # no secretName: ingress-nginx serves its default certificate, the *.{domain} wildcard
            "tls": [{"hosts": [host]}],
        },
    }


async def install(ctx: InstallContext) -> None:
    ns = ctx.component.namespace
    host = hostname(ctx)
    await ctx.step("namespace", lambda: ensure_namespace(ctx, ns))
    db = await database_for(ctx, "mlflow", database=str(ctx.config["databaseName"]))
    s3 = await bucket_for(ctx, "mlflow")
    wanted_bucket = str(ctx.config["artifactBucket"])
    if wanted_bucket != s3.bucket:
        ctx.log(
            f"note: artifactBucket {wanted_bucket} is not provisioned by the shared MinIO contract; "
            f"using its bucket {s3.bucket}"
        )
    client = await oidc_client_for(ctx, "mlflow")
    await ctx.step(
        "Keycloak login in front of the web UI (oauth2-proxy)", lambda: oauth2_proxy(ctx, NAME, ns, host, client)
    )
    values = chart_values(
        ctx,
        db_secret=db.secret_name,
        db_host=db.host,
        db_port=db.port,
        database=db.database,
        s3_secret=s3.secret_name,
        bucket=s3.bucket,
        endpoint=s3.endpoint,
    )
    await ctx.step("install the MLflow chart", lambda: ctx.helm(values, timeout_s=900))

    # Verify: the tracking server and the login proxy are rolled out.
    await rollout(ctx, "Deployment", NAME, ns, timeout=900)
    await rollout(ctx, "Deployment", f"{NAME}-oauth2-proxy", ns, timeout=300)
    ctx.log(
        f"MLflow is ready at https://{host} (Keycloak login); in the cluster at "
        f"http://{NAME}.{ns}.svc.cluster.local:{PORT}; metadata in database {db.database} "
        f"(Secret {ns}/{db.secret_name}), artifacts in s3://{s3.bucket} (Secret {ns}/{s3.secret_name})"
    )


async def uninstall(ctx: InstallContext) -> None:
    """What install created goes; its data stays unless purge (support/uninstall.py)."""
    await helm_release_gone(ctx, ctx.component.id, ctx.component.namespace)
    await oidc_client_gone(ctx)
    await database_released(ctx, database=str(ctx.config["databaseName"]))
    await bucket_user_gone(ctx)
    await namespace_gone(ctx)
