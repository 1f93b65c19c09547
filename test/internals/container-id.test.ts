// Container and pod identity from cgroup paths: every runtime's and
// driver's spelling, cgroup v1 and v2.
import t from 'tap';
import { dockerId, parseCgroupContainer, type CgroupContainer } from '../../kernel/container-id.js';

const ID = '9fcfe6dad4c81dc2ecd7f378eecdbfb6a04506dccb263c00d19eac2d0bac8495';
const ID2 = 'fff84984a3a37124dfc1f9da8f2efbff35a5c9c473c57cf3a33af4e2eb236979';
const UID = 'df467d5f-563b-4c39-9783-c5e542563b95';
const UID_ = UID.replace(/-/g, '_');
const STATIC_UID = 'e3b0c44298fc1c149afbf4c8996fb924';

const table: [string, string, CgroupContainer | undefined][] = [
  // containerd and Docker under the kubelet, cgroupfs driver (this project's test cluster), v1 controller and v2.
  ['containerd, cgroupfs, BestEffort', `/kubepods/besteffort/pod${UID}/${ID}`, { id: ID, podUid: UID }],
  ['containerd, cgroupfs, Burstable', `/kubepods/burstable/pod${UID}/${ID}`, { id: ID, podUid: UID }],
  ['containerd, cgroupfs, Guaranteed', `/kubepods/pod${UID}/${ID}`, { id: ID, podUid: UID }],
  ['v2 path seen under /sys/fs/cgroup/unified', `/kubepods/besteffort/pod${UID}/${ID}/`, { id: ID, podUid: UID }],
  // systemd driver.
  ['containerd, systemd, Burstable',
    `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/cri-containerd-${ID}.scope`,
    { id: ID, runtime: 'containerd', podUid: UID }],
  ['containerd, systemd, BestEffort',
    `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/cri-containerd-${ID}.scope`,
    { id: ID, runtime: 'containerd', podUid: UID }],
  ['containerd, systemd, Guaranteed', `/kubepods.slice/kubepods-pod${UID_}.slice/cri-containerd-${ID}.scope`,
    { id: ID, runtime: 'containerd', podUid: UID }],
  ['CRI-O, systemd', `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/crio-${ID}.scope`,
    { id: ID, runtime: 'cri-o', podUid: UID }],
  ['CRI-O, cgroupfs', `/kubepods/burstable/pod${UID}/crio-${ID}`, { id: ID, runtime: 'cri-o', podUid: UID }],
  ['cri-dockerd, systemd', `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/docker-${ID}.scope`,
    { id: ID, runtime: 'docker', podUid: UID }],
  ['runc cgroupfs given slice:prefix:name', `/kubepods-besteffort-pod${UID_}.slice:cri-containerd:${ID}`,
    { id: ID, runtime: 'containerd', podUid: UID }],
  ['static pod (hash UID)', `/kubepods/burstable/pod${STATIC_UID}/${ID}`, { id: ID, podUid: STATIC_UID }],
  // Without Kubernetes.
  ['Docker, cgroupfs', `/docker/${ID}`, { id: ID }],
  ['Docker, systemd', `/system.slice/docker-${ID}.scope`, { id: ID, runtime: 'docker' }],
  ['podman, systemd', `/machine.slice/libpod-${ID}.scope`, { id: ID, runtime: 'podman' }],
  ['podman, the container\'s own sub-cgroup', `/machine.slice/libpod-${ID}.scope/container`, { id: ID, runtime: 'podman' }],
  // Nesting: a container's own cgroups, and a cluster in Docker (kind): the deepest container wins.
  ['systemd inside a container', `/kubepods/besteffort/pod${UID}/${ID}/init.scope`, { id: ID, podUid: UID }],
  ['kind node: pods inside a Docker container', `/docker/${ID2}/kubepods/besteffort/pod${UID}/${ID}`, { id: ID, podUid: UID }],
  ['Docker in Docker', `/docker/${ID2}/docker/${ID}`, { id: ID }],
  // Host cgroups and near misses.
  ['the root', '/', undefined],
  ['a host service', '/system.slice/containerd.service', undefined],
  ['a user session', '/user.slice/user-0.slice/session-3.scope', undefined],
  ['the pod cgroup itself', `/kubepods/besteffort/pod${UID}`, undefined],
  ['CRI-O conmon is the monitor, not the container', `/kubepods.slice/kubepods-pod${UID_}.slice/crio-conmon-${ID}.scope`, undefined],
  ['63 hex digits', `/docker/${ID.slice(1)}`, undefined],
  ['upper-case hex is no runtime\'s spelling', `/docker/${ID.toUpperCase()}`, undefined],
];

t.test('cgroup paths name their container and pod', async (t) => {
  for (const [what, path, want] of table) t.same(parseCgroupContainer(path), want, what);
});

t.test('docker is the ID\'s first 31 characters, as Tetragon gives it', async (t) => {
  t.equal(dockerId(ID), ID.slice(0, 31));
  t.equal(dockerId(ID).length, 31);
});
