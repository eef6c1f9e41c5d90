import { Inventory, type Product } from './inventory';

export interface CartLine {
  readonly product: Product;
  quantity: number;
}

export class Cart {
  private readonly lines: CartLine[] = [];

  constructor(private readonly inventory: Inventory) {}

  add(sku: string, quantity = 1): boolean {
    const product = this.inventory.find(sku);
    if (!product || this.inventory.quantityOf(sku) < quantity) return false;
    const line = this.lines.find((l) => l.product.sku === sku);
    if (line) line.quantity += quantity;
    else this.lines.push({ product, quantity });
    return true;
  }

  totalCents(): number {
    return this.lines.reduce((sum, line) => sum + line.product.priceCents * line.quantity, 0);
  }

  get size(): number {
    return this.lines.length;
  }
}
