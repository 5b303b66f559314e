/** Kafka's rules for topic names: 1-249 characters of [a-zA-Z0-9._-], and not "." or "..". */
export const maxTopicNameLength = 249;

export function topicNameProblem(name: string): string | null {
  if (name.length === 0) return 'topic name is empty';
  if (name.length > maxTopicNameLength) return `topic name is longer than ${maxTopicNameLength} characters`;
  if (name === '.' || name === '..') return `topic name cannot be '${name}'`;
  if (!/^[a-zA-Z0-9._-]+$/.test(name)) return `topic name '${name}' has characters other than ASCII letters, digits, '.', '_' and '-'`;
  return null;
}
