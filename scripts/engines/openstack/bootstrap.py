"""Registers what up.sh's OpenStack needs in Keystone and Nova, with openstacksdk (one process: the
CLI would take a second or two per call). Run by up.sh with the venv's Python.

    bootstrap.py catalog   service project and users, catalog entries, the `tars` project and user
    bootstrap.py compute   flavors; waits for the compute hosts (TARS_OS_COMPUTE_HOSTS of them: Nova
                           services up, hosts mapped to the cell, resource providers with
                           inventory in Placement)

Settings come from the environment up.sh passes: TARS_OS_KEYSTONE_URL, TARS_OS_PORT_{NOVA,
PLACEMENT,GLANCE,NEUTRON}, TARS_OS_ADMIN_PASSWORD, TARS_OS_SERVICE_PASSWORD, TARS_OS_TARS_PASSWORD,
TARS_OS_DEADLINE (epoch seconds by which `compute` must be done), TARS_OS_NOVA_MANAGE (a command
line that runs nova-manage with its configuration). Everything is idempotent.
"""

import os
import shlex
import subprocess
import sys
import time
import warnings

warnings.simplefilter("ignore")
import openstack  # noqa: E402

REGION = "RegionOne"
# (name, vcpus, ram MiB, disk GiB): the usual m1 sizes, plus a nano for many small groups.
FLAVORS = [
    ("m1.nano", 1, 128, 1),
    ("m1.tiny", 1, 512, 1),
    ("m1.small", 1, 2048, 20),
    ("m1.medium", 2, 4096, 40),
    ("m1.large", 4, 8192, 80),
    ("m1.xlarge", 8, 16384, 160),
]


def env(name):
    value = os.environ.get(name)
    if not value:
        sys.exit(f"bootstrap.py: {name} is not set")
    return value


def admin():
    return openstack.connect(
        auth_url=env("TARS_OS_KEYSTONE_URL"),
        username="admin",
        password=env("TARS_OS_ADMIN_PASSWORD"),
        project_name="admin",
        user_domain_name="Default",
        project_domain_name="Default",
        region_name=REGION,
        # The catalog is written by this script: no endpoint may be cached before it is.
        load_envvars=False,
        load_yaml_config=False,
    )


def catalog():
    idc = admin().identity
    service_password = env("TARS_OS_SERVICE_PASSWORD")
    svc = idc.find_project("service", domain_id="default") or idc.create_project(
        name="service", domain_id="default", description="OpenStack's own services"
    )
    roles = {r.name: r for r in idc.roles()}
    for name in ("admin", "service", "member", "reader"):
        if name not in roles:
            roles[name] = idc.create_role(name=name)
    services = [
        ("nova", "compute", f"http://127.0.0.1:{env('TARS_OS_PORT_NOVA')}/v2.1"),
        ("placement", "placement", f"http://127.0.0.1:{env('TARS_OS_PORT_PLACEMENT')}"),
        ("glance", "image", f"http://127.0.0.1:{env('TARS_OS_PORT_GLANCE')}"),
        ("neutron", "network", f"http://127.0.0.1:{env('TARS_OS_PORT_NEUTRON')}"),
    ]
    existing = {s.type: s for s in idc.services()}
    for name, kind, url in services:
        user = idc.find_user(name, domain_id="default") or idc.create_user(
            name=name, password=service_password, domain_id="default"
        )
        for role in ("admin", "service"):
            idc.assign_project_role_to_user(svc, user, roles[role])
        service = existing.get(kind) or idc.create_service(name=name, type=kind)
        have = {e.interface for e in idc.endpoints(service_id=service.id)}
        for interface in ("public", "internal", "admin"):
            if interface not in have:
                idc.create_endpoint(
                    service_id=service.id, interface=interface, url=url, region_id=REGION
                )
    # The project and user tars' tests use: an ordinary member, not an admin.
    tars = idc.find_project("tars", domain_id="default") or idc.create_project(
        name="tars", domain_id="default", description="tars' test workloads"
    )
    user = idc.find_user("tars", domain_id="default") or idc.create_user(
        name="tars", password=env("TARS_OS_TARS_PASSWORD"), domain_id="default",
        default_project_id=tars.id,
    )
    for role in ("member", "reader"):
        idc.assign_project_role_to_user(tars, user, roles[role])
    # The admin works in tars' project too (to read and clean up what the tests made).
    admin_user = idc.find_user("admin", domain_id="default")
    idc.assign_project_role_to_user(tars, admin_user, roles["admin"])
    print("catalog:", ", ".join(f"{k} {u}" for _, k, u in services))


def wait(what, check, interval=0.5):
    deadline = float(env("TARS_OS_DEADLINE"))
    last = None
    while True:
        try:
            result = check()
            if result:
                return result
        except Exception as e:  # the service may not answer yet
            last = e
        if time.time() > deadline:
            sys.exit(f"bootstrap.py: timed out waiting for {what}" + (f" (last error: {last})" if last else ""))
        time.sleep(interval)


def compute():
    conn = admin()
    have = {f.name for f in conn.compute.flavors(is_public=None)}
    for name, vcpus, ram, disk in FLAVORS:
        if name not in have:
            conn.compute.create_flavor(name=name, vcpus=vcpus, ram=ram, disk=disk, is_public=True)
    print("flavors:", ", ".join(f"{n} ({c} vCPU, {r} MiB)" for n, c, r, _ in FLAVORS))

    hosts = int(os.environ.get("TARS_OS_COMPUTE_HOSTS", "1"))

    def compute_up():
        up = [
            s for s in conn.compute.services()
            if s.binary == "nova-compute" and s.state == "up" and s.status == "enabled"
        ]
        return up if len(up) >= hosts else None

    up = wait(f"{hosts} nova-compute service(s) to report up", compute_up)
    # Map the new hosts to cell1 now (the scheduler would do it within its 5 s interval).
    cmd = shlex.split(env("TARS_OS_NOVA_MANAGE")) + ["cell_v2", "discover_hosts"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def inventory():
        found = {}
        for rp in conn.placement.resource_providers():
            inv = {i.resource_class: i.total for i in conn.placement.resource_provider_inventories(rp)}
            if inv.get("VCPU") and inv.get("MEMORY_MB"):
                found[rp.name] = inv
        return found if len(found) >= hosts else None

    inv = wait("the compute hosts' inventory in Placement", inventory)
    hypervisors = wait(
        "the hypervisors to be listed",
        lambda: (lambda h: h if len(h) >= hosts else None)(list(conn.compute.hypervisors())),
    )
    print(f"compute: hosts {sorted(s.host for s in up)}, resource providers {inv}, "
          f"hypervisors {sorted(h.name for h in hypervisors)}")


if __name__ == "__main__":
    commands = {"catalog": catalog, "compute": compute}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        sys.exit(f"usage: bootstrap.py {'|'.join(commands)}")
    commands[sys.argv[1]]()
