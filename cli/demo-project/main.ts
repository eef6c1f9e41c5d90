import { Cart } from './cart';
import { Inventory } from './inventory';

const inventory = new Inventory();
inventory.add({ sku: 'kb-01', name: 'Keyboard', priceCents: 4999, tags: ['input'] }, 3);
inventory.add({ sku: 'ms-02', name: 'Mouse', priceCents: 1999, tags: ['input'] }, 0);

const cart = new Cart(inventory);
cart.add('kb-01', 2);
const available = inventory.inStock().map((p) => p.name);
console.log(`items: ${cart.size}, total: ${(cart.totalCents() / 100).toFixed(2)}`);
console.log(available.join(', '));
