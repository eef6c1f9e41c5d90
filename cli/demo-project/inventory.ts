export interface Product {
  readonly sku: string;
  readonly name: string;
  readonly priceCents: number;
  readonly tags: readonly string[];
}

export class Inventory {
  private readonly stock = new Map<string, number>();
  private readonly products = new Map<string, Product>();

  add(product: Product, quantity: number): void {
    this.products.set(product.sku, product);
    this.stock.set(product.sku, (this.stock.get(product.sku) ?? 0) + quantity);
  }

  quantityOf(sku: string): number {
    return this.stock.get(sku) ?? 0;
  }

  find(sku: string): Product | undefined {
    return this.products.get(sku);
  }

  inStock(): Product[] {
    return [...this.products.values()].filter((p) => this.quantityOf(p.sku) > 0);
  }
}
