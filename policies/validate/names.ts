// Symbolic values Tetragon accepts in selectors.
import { FAMILY_NUMBERS, PROTOCOL_NUMBERS, TCP_STATE_NUMBERS } from '../../kernel/net/names.js';

export { CAPABILITIES } from '../../kernel/caps.js';
export { NAMESPACE_TYPES as NAMESPACES } from '../../kernel/namespaces.js';

export const TCP_STATES = Object.keys(TCP_STATE_NUMBERS);

export const PROTOCOLS = Object.keys(PROTOCOL_NUMBERS);

export const FAMILIES = Object.keys(FAMILY_NUMBERS);
