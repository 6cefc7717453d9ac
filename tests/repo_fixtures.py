"""Small repositories the repository-suite tests write: a Rails-like Ruby app (models, Sidekiq
workers, a service object, migrations), a Python package (a SQLAlchemy-style model, Celery tasks,
a service) and a TypeScript service. Each file is what a developer would write; the tests check
every generated ground truth against what is written here."""

from __future__ import annotations

import subprocess
from pathlib import Path

RAILS = {
    "app/models/application_record.rb": """\
class ApplicationRecord < ActiveRecord::Base
  self.abstract_class = true
end
""",
    "app/models/user.rb": """\
class User < ApplicationRecord
  has_many :orders

  def display_name
    format_name(first_name, last_name)
  end

  def format_name(first, last)
    "#{first} #{last}".strip
  end
end
""",
    "app/models/order.rb": """\
class Order < ApplicationRecord
  belongs_to :user

  def total_cents
    line_items.sum(&:price_cents)
  end

  def overdue?(today)
    due_on < today
  end
end
""",
    "app/services/checkout_service.rb": """\
require_relative "../models/order"
require "json"

class CheckoutService
  def initialize(user)
    @user = user
  end

  def call(items)
    order = Order.create!(user: @user)
    total = compute_total(items)
    ReceiptWorker.perform_async(order.id)
    total
  end

  def compute_total(items)
    sum = 0
    items.each do |item|
      sum += item[:price] * item[:quantity]
    end
    sum
  end
end
""",
    "app/workers/receipt_worker.rb": """\
class ReceiptWorker
  include Sidekiq::Worker
  sidekiq_options queue: :mailers, retry: 3

  def perform(order_id)
    order = Order.find(order_id)
    user = order.user
    ReceiptMailer.send_receipt(user.email, order.total_cents)
  end
end
""",
    "app/workers/cleanup_worker.rb": """\
class CleanupWorker
  include Sidekiq::Job
  sidekiq_options queue: :low, retry: false

  def perform(days)
    cutoff = Time.now - days
    Order.where("created_at < ?", cutoff).delete_all
  end
end
""",
    "app/jobs/application_job.rb": """\
class ApplicationJob < ActiveJob::Base
end
""",
    "app/jobs/report_job.rb": """\
class ReportJob < ApplicationJob
  queue_as :reports

  def perform(user_id)
    user = User.find(user_id)
    user.display_name
  end
end
""",
    "db/migrate/20240101000000_create_users.rb": """\
class CreateUsers < ActiveRecord::Migration[7.1]
  def change
    create_table :users do |t|
      t.string :email
      t.timestamps
    end
  end
end
""",
    "db/migrate/20240102000000_create_orders.rb": """\
class CreateOrders < ActiveRecord::Migration[7.1]
  def change
    create_table :orders do |t|
      t.references :user
      t.date :due_on
      t.timestamps
    end
  end
end
""",
    "db/migrate/20240103000000_add_status_to_orders.rb": """\
class AddStatusToOrders < ActiveRecord::Migration[7.1]
  def change
    add_column :orders, :status, :string
  end
end
""",
}

PYTHON = {
    "shop/__init__.py": "",
    "shop/models.py": """\
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


class Invoice(Base):
    __tablename__ = "invoices"

    def is_paid(self, balance):
        return balance <= 0
""",
    "shop/pricing.py": """\
from shop.models import Invoice


def apply_discount(amount, percent):
    if percent > 100:
        raise ValueError("percent over 100")
    return amount - amount * percent / 100


def invoice_total(lines):
    total = 0
    for line in lines:
        total += line["amount"]
    return total
""",
    "shop/billing.py": """\
import logging

from shop.models import Invoice
from shop.pricing import apply_discount, invoice_total

log = logging.getLogger(__name__)


class BillingService:
    def bill(self, lines, percent):
        total = invoice_total(lines)
        discounted = apply_discount(total, percent)
        log.info("billed %s", discounted)
        return Invoice()

    def refund(self, invoice, amount):
        try:
            invoice.refund(amount)
        except ValueError:
            log.warning("refund refused")
            raise
        return amount
""",
    "shop/tasks.py": """\
from celery import shared_task

from shop.billing import BillingService


@shared_task(queue="billing", max_retries=5)
def bill_customer(lines, percent):
    service = BillingService()
    return service.bill(lines, percent)


@shared_task(queue="default", max_retries=0)
def nightly_summary(days):
    return days * 2
""",
}

TYPESCRIPT = {
    "src/http/client.ts": """\
export class HttpClient {
  constructor(private base: string) {}

  get(path: string): string {
    return this.base + path;
  }
}
""",
    "src/services/userService.ts": """\
import { HttpClient } from "../http/client";
import { formatUser } from "./format";

export class UserService extends HttpClient {
  findUser(id: number): string {
    const raw = this.get("/users/" + id);
    return formatUser(raw);
  }

  isAdult(age: number): boolean {
    return age >= 18;
  }
}
""",
    "src/services/format.ts": """\
export function formatUser(raw: string): string {
  if (raw.length === 0) {
    return "unknown";
  }
  return raw.trim();
}
""",
    "src/index.ts": """\
import { UserService } from "./services/userService";

const service = new UserService("http://127.0.0.1:3000");
export function main(): void {
  const name = service.findUser(1);
  console.log(name);
}
""",
}


def write_repo(root: Path, files: dict[str, str], git: bool = False) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    if git:
        run = lambda *a: subprocess.run(["git", "-C", str(root), *a], check=True, capture_output=True)  # noqa: E731
        run("init", "-q")
        run("-c", "user.email=t@example.invalid", "-c", "user.name=t", "add", "-A")
        run("-c", "user.email=t@example.invalid", "-c", "user.name=t", "commit", "-qm", "init")
    return root


def mixed_repo(root: Path, git: bool = False) -> Path:
    """All three projects side by side in one repository."""
    return write_repo(root, {**RAILS, **PYTHON, **TYPESCRIPT}, git=git)
