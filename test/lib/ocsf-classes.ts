// What OCSF 1.x requires of the classes and objects Vigil's OCSF documents
// use, from the schema (ocsf/ocsf-schema events/*.json and objects/*.json,
// "requirement": "required" and the at_least_one constraints).
export interface OcsfClass {
  category_uid: number;
  /** Required attributes, base event's included. */
  required: string[];
  /** At least one of each group. */
  atLeastOne?: string[][];
  /** The class's activity_id values (0 Unknown and 99 Other are every class's). */
  activities: number[];
}

const BASE = ['activity_id', 'category_uid', 'class_uid', 'metadata', 'severity_id', 'time', 'type_uid'];

export const OCSF_CLASSES: Record<number, OcsfClass> = {
  0: { category_uid: 0, required: BASE, activities: [] },
  // System Activity (category 1) adds actor and device.
  1007: { category_uid: 1, required: [...BASE, 'actor', 'device', 'process'], activities: [1, 2, 3, 4, 5] },
  1001: { category_uid: 1, required: [...BASE, 'actor', 'device', 'file'], activities: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14] },
  4001: { category_uid: 4, required: BASE, atLeastOne: [['src_endpoint', 'dst_endpoint']], activities: [1, 2, 3, 4, 5, 6, 7] },
};

/** Objects by the attribute that holds them: their required attributes and at-least-one groups. */
export const OCSF_OBJECTS: Record<string, { required: string[]; atLeastOne?: string[][] }> = {
  metadata: { required: ['product', 'version'] },
  'metadata.product': { required: ['name'] },
  device: { required: ['type_id'] },
  file: { required: ['name', 'type_id'] },
  'process.file': { required: ['name', 'type_id'] },
  process: { required: [], atLeastOne: [['pid', 'uid']] },
  'actor.process': { required: [], atLeastOne: [['pid', 'uid']] },
  'process.parent_process': { required: [], atLeastOne: [['pid', 'uid']] },
  actor: { required: [], atLeastOne: [['process', 'user', 'invoked_by', 'app_name', 'app_uid', 'authorizations', 'idp', 'session']] },
  connection_info: { required: ['direction_id'] },
};

const get = (doc: Record<string, unknown>, path: string): unknown =>
  path.split('.').reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), doc);

/** Why a document is not of its OCSF class; none when it is. */
export function ocsfErrors(doc: Record<string, unknown>): string[] {
  const errors: string[] = [];
  const cls = OCSF_CLASSES[doc.class_uid as number];
  if (!cls) return [`class_uid ${String(doc.class_uid)}: not a class Vigil maps to`];
  for (const a of cls.required) if (doc[a] === undefined) errors.push(`${a}: required by class ${String(doc.class_uid)}`);
  for (const group of cls.atLeastOne ?? []) if (!group.some((a) => doc[a] !== undefined)) errors.push(`one of ${group.join(', ')}: required`);
  if (doc.category_uid !== cls.category_uid) errors.push(`category_uid ${String(doc.category_uid)}: class ${String(doc.class_uid)} is in ${cls.category_uid}`);
  const activity = doc.activity_id as number;
  if (![0, 99, ...cls.activities].includes(activity)) errors.push(`activity_id ${activity}: not an activity of class ${String(doc.class_uid)}`);
  if (doc.type_uid !== (doc.class_uid as number) * 100 + activity) errors.push(`type_uid ${String(doc.type_uid)}: not class_uid * 100 + activity_id`);
  if (![0, 1, 2, 3, 4, 5, 6, 99].includes(doc.severity_id as number)) errors.push(`severity_id ${String(doc.severity_id)}: not a severity`);
  if (!Number.isSafeInteger(doc.time)) errors.push('time: not a timestamp in ms');
  if (typeof get(doc, 'metadata.version') !== 'string' || !/^1\.\d+\.\d+$/.test(get(doc, 'metadata.version') as string)) errors.push('metadata.version: not an OCSF 1.x version');
  for (const [path, rule] of Object.entries(OCSF_OBJECTS)) {
    const obj = get(doc, path);
    if (obj === undefined) continue;
    if (typeof obj !== 'object' || obj === null) {
      errors.push(`${path}: not an object`);
      continue;
    }
    for (const a of rule.required) if ((obj as Record<string, unknown>)[a] === undefined) errors.push(`${path}.${a}: required`);
    for (const group of rule.atLeastOne ?? []) if (!group.some((a) => (obj as Record<string, unknown>)[a] !== undefined)) errors.push(`${path}: one of ${group.join(', ')} required`);
  }
  return errors;
}
