import { BoundedMap } from '../../core/bounded-map';

it('holds at most its bound: full, a new key starts it over, an update of a held key does not', () => {
  const cache = new BoundedMap<string, number>(2);
  cache.set('a', 1).set('b', 2);
  cache.set('a', 3);
  expect([...cache]).toEqual([
    ['a', 3],
    ['b', 2],
  ]);
  cache.set('c', 4);
  expect([...cache]).toEqual([['c', 4]]);
});
