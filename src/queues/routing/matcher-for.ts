/** The matcher for an exchange type, and the check that a declared type is one we route. */
import type { BindingMatcher, ExchangeTypeName } from './binding-matcher.js';
import { DirectMatcher } from './direct.js';
import { FanoutMatcher } from './fanout.js';
import { TopicMatcher } from './topic.js';
import { HeadersMatcher } from './headers.js';

const exchangeTypeNames: readonly ExchangeTypeName[] = ['direct', 'fanout', 'topic', 'headers'];

export function isExchangeTypeName(text: string): text is ExchangeTypeName {
  return exchangeTypeNames.some((name) => name === text);
}

export function createBindingMatcher<Destination>(type: ExchangeTypeName): BindingMatcher<Destination> {
  switch (type) {
    case 'direct': return new DirectMatcher<Destination>();
    case 'fanout': return new FanoutMatcher<Destination>();
    case 'topic': return new TopicMatcher<Destination>();
    case 'headers': return new HeadersMatcher<Destination>();
  }
}
