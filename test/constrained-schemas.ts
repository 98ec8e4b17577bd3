// JSON schemas of the kinds a backend asks a model for (issue 19): nested objects, arrays with bounds, enums,
// integers with ranges, strings with patterns, optional properties, anyOf. Each with the request a user
// would write beside it. Shared by the constrained-decoding tests and bench/constrained.mjs' compile timing.
import type { JsonSchema } from '../lib/response-format.js';

export interface SchemaCase {
  name: string;
  request: string;
  schema: Exclude<JsonSchema, boolean>;
}

const str = (extra: Record<string, unknown> = {}) => ({ type: 'string', maxLength: 40, ...extra });

export const SCHEMA_CASES: SchemaCase[] = [
  { name: 'flat object', request: 'Describe a city.', schema: { type: 'object', properties: { city: str(), country: str() }, required: ['city', 'country'], additionalProperties: false } },
  { name: 'integer range', request: 'Rate the movie Alien from 1 to 10.', schema: { type: 'object', properties: { rating: { type: 'integer', minimum: 1, maximum: 10 } }, required: ['rating'], additionalProperties: false } },
  { name: 'negative integer range', request: 'Give a winter temperature in Celsius.', schema: { type: 'object', properties: { celsius: { type: 'integer', minimum: -40, maximum: 5 } }, required: ['celsius'], additionalProperties: false } },
  { name: 'number with bounds', request: 'Give the price of a coffee in euros.', schema: { type: 'object', properties: { price: { type: 'number', minimum: 0, maximum: 20 } }, required: ['price'], additionalProperties: false } },
  { name: 'enum', request: 'What is the sentiment of "I love it"?', schema: { type: 'object', properties: { sentiment: { enum: ['positive', 'neutral', 'negative'] } }, required: ['sentiment'], additionalProperties: false } },
  { name: 'top-level enum', request: 'Pick a primary colour.', schema: { enum: ['red', 'green', 'blue'] } },
  { name: 'boolean', request: 'Is the sky blue?', schema: { type: 'object', properties: { answer: { type: 'boolean' } }, required: ['answer'], additionalProperties: false } },
  { name: 'string pattern (date)', request: 'When did the Berlin wall fall?', schema: { type: 'object', properties: { date: { type: 'string', pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' } }, required: ['date'], additionalProperties: false } },
  { name: 'string pattern (code)', request: 'Invent a product code.', schema: { type: 'object', properties: { code: { type: 'string', pattern: '^[A-Z]{3}-[0-9]{4}$' } }, required: ['code'], additionalProperties: false } },
  { name: 'string length bounds', request: 'Name a fruit.', schema: { type: 'object', properties: { fruit: { type: 'string', minLength: 3, maxLength: 12 } }, required: ['fruit'], additionalProperties: false } },
  { name: 'array with bounds', request: 'List some colours.', schema: { type: 'object', properties: { colours: { type: 'array', items: str({ maxLength: 15 }), minItems: 2, maxItems: 4 } }, required: ['colours'], additionalProperties: false } },
  { name: 'array of integers', request: 'Give some lucky numbers.', schema: { type: 'array', items: { type: 'integer', minimum: 0, maximum: 99 }, minItems: 1, maxItems: 5 } },
  { name: 'fixed-length array', request: 'Give an RGB colour.', schema: { type: 'array', items: { type: 'integer', minimum: 0, maximum: 255 }, minItems: 3, maxItems: 3 } },
  { name: 'array of enum', request: 'Pick two days of the week.', schema: { type: 'array', items: { enum: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] }, minItems: 2, maxItems: 2 } },
  { name: 'nested object', request: 'Describe a person and their address.', schema: { type: 'object', properties: { name: str(), address: { type: 'object', properties: { street: str(), city: str(), zip: { type: 'string', pattern: '^[0-9]{5}$' } }, required: ['street', 'city', 'zip'], additionalProperties: false } }, required: ['name', 'address'], additionalProperties: false } },
  { name: 'deeply nested', request: 'Describe a company.', schema: { type: 'object', properties: { company: { type: 'object', properties: { ceo: { type: 'object', properties: { name: str(), age: { type: 'integer', minimum: 18, maximum: 99 } }, required: ['name', 'age'], additionalProperties: false } }, required: ['ceo'], additionalProperties: false } }, required: ['company'], additionalProperties: false } },
  { name: 'array of objects', request: 'List two books with their year.', schema: { type: 'object', properties: { books: { type: 'array', minItems: 1, maxItems: 2, items: { type: 'object', properties: { title: str(), year: { type: 'integer', minimum: 1450, maximum: 2025 } }, required: ['title', 'year'], additionalProperties: false } } }, required: ['books'], additionalProperties: false } },
  { name: 'optional properties', request: 'Describe a user.', schema: { type: 'object', properties: { id: { type: 'integer', minimum: 1, maximum: 100000 }, nickname: str(), email: str() }, required: ['id'], additionalProperties: false } },
  { name: 'all optional', request: 'Give some settings.', schema: { type: 'object', properties: { verbose: { type: 'boolean' }, level: { type: 'integer', minimum: 0, maximum: 3 } }, additionalProperties: false } },
  { name: 'anyOf of types', request: 'Give an id, a number or a name.', schema: { type: 'object', properties: { id: { anyOf: [{ type: 'integer', minimum: 0, maximum: 1000 }, str({ maxLength: 10 })] } }, required: ['id'], additionalProperties: false } },
  { name: 'anyOf of objects', request: 'Describe a shape.', schema: { anyOf: [{ type: 'object', properties: { kind: { const: 'circle' }, radius: { type: 'number', minimum: 0, maximum: 100 } }, required: ['kind', 'radius'], additionalProperties: false }, { type: 'object', properties: { kind: { const: 'square' }, side: { type: 'number', minimum: 0, maximum: 100 } }, required: ['kind', 'side'], additionalProperties: false }] } },
  { name: 'nullable', request: 'Give a middle name, if any.', schema: { type: 'object', properties: { middle: { type: ['string', 'null'], maxLength: 20 } }, required: ['middle'], additionalProperties: false } },
  { name: 'const', request: 'Acknowledge.', schema: { type: 'object', properties: { status: { const: 'ok' }, detail: str() }, required: ['status', 'detail'], additionalProperties: false } },
  { name: '$defs reference', request: 'Give a start and end point.', schema: { $defs: { point: { type: 'object', properties: { x: { type: 'integer', minimum: -100, maximum: 100 }, y: { type: 'integer', minimum: -100, maximum: 100 } }, required: ['x', 'y'], additionalProperties: false } }, type: 'object', properties: { start: { $ref: '#/$defs/point' }, end: { $ref: '#/$defs/point' } }, required: ['start', 'end'], additionalProperties: false } },
  { name: 'order (e-commerce)', request: 'Create an order for two items.', schema: { type: 'object', properties: { orderId: { type: 'string', pattern: '^ORD[0-9]{6}$' }, items: { type: 'array', minItems: 1, maxItems: 3, items: { type: 'object', properties: { sku: { type: 'string', pattern: '^[A-Z0-9]{4,8}$' }, quantity: { type: 'integer', minimum: 1, maximum: 9 } }, required: ['sku', 'quantity'], additionalProperties: false } }, status: { enum: ['pending', 'shipped', 'delivered'] } }, required: ['orderId', 'items', 'status'], additionalProperties: false } },
  { name: 'form fill', request: 'Fill in a sign-up form for Ada Lovelace.', schema: { type: 'object', properties: { firstName: str(), lastName: str(), age: { type: 'integer', minimum: 0, maximum: 130 }, newsletter: { type: 'boolean' }, country: { enum: ['UK', 'FR', 'DE', 'US', 'CN'] } }, required: ['firstName', 'lastName', 'age', 'newsletter', 'country'], additionalProperties: false } },
  { name: 'extraction', request: 'Extract the fields of: "Call Bob at 555-0199 on Friday".', schema: { type: 'object', properties: { person: str(), phone: { type: 'string', pattern: '^[0-9]{3}-[0-9]{4}$' }, day: { enum: ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'] } }, required: ['person', 'phone', 'day'], additionalProperties: false } },
  { name: 'tool arguments', request: 'Get the weather in Paris in celsius.', schema: { type: 'object', properties: { location: str(), unit: { enum: ['celsius', 'fahrenheit'] } }, required: ['location', 'unit'], additionalProperties: false } },
  { name: 'matrix', request: 'Give a 2x2 matrix.', schema: { type: 'array', minItems: 2, maxItems: 2, items: { type: 'array', minItems: 2, maxItems: 2, items: { type: 'integer', minimum: -9, maximum: 9 } } } },
  { name: 'tuple (prefixItems)', request: 'Give a name and an age.', schema: { type: 'array', prefixItems: [str(), { type: 'integer', minimum: 0, maximum: 120 }], items: false, minItems: 2 } },
  { name: 'multipleOf', request: 'Give an even number below 100.', schema: { type: 'object', properties: { even: { type: 'integer', minimum: 0, maximum: 98, multipleOf: 2 } }, required: ['even'], additionalProperties: false } },
  { name: 'exclusive bounds', request: 'Give a probability.', schema: { type: 'object', properties: { p: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 } }, required: ['p'], additionalProperties: false } },
  { name: 'Chinese keys and text', request: '用中文描述一本书。', schema: { type: 'object', properties: { 书名: str({ maxLength: 20 }), 作者: str({ maxLength: 20 }) }, required: ['书名', '作者'], additionalProperties: false } },
  { name: 'string enum with spaces', request: 'Pick a plan.', schema: { type: 'object', properties: { plan: { enum: ['free tier', 'pro plan', 'enterprise'] } }, required: ['plan'], additionalProperties: false } },
];
