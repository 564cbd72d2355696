# An ECS service deploying with native blue/green, every stage judged by greenlight.
#
# The functions and the role ECS assumes to invoke them come from the greenlight stack's exports
# (infra/template.yaml, deployed with SAM). hook_details is a string: write it with jsonencode().
# Needs the AWS provider 6.21.0 or later (lifecycle_hook since 6.4.0, hook_details since 6.14.0,
# linear/canary configuration since 6.21.0).

terraform {
  required_version = ">= 1.5.0"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.21.0"
    }
  }
}

variable "greenlight_stack_name" {
  description = "The name of the deployed greenlight stack, whose exports name the hook functions"
  type        = string
  default     = "greenlight"
}

variable "cluster_arn" {
  type    = string
  default = "arn:aws:ecs:us-east-1:111122223333:cluster/prod-apps"
}

variable "task_definition_arn" {
  type    = string
  default = "arn:aws:ecs:us-east-1:111122223333:task-definition/checkout:42"
}

variable "subnet_ids" {
  type    = list(string)
  default = ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"]
}

variable "security_group_id" {
  type    = string
  default = "sg-0a1b2c3d4e5f60003"
}

variable "blue_target_group_arn" {
  type    = string
  default = "arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/checkout-a/0a1b2c3d4e5f6071"
}

variable "green_target_group_arn" {
  type    = string
  default = "arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/checkout-b/0a1b2c3d4e5f6072"
}

variable "production_listener_rule_arn" {
  type    = string
  default = "arn:aws:elasticloadbalancing:us-east-1:111122223333:listener-rule/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee"
}

variable "test_listener_rule_arn" {
  type    = string
  default = "arn:aws:elasticloadbalancing:us-east-1:111122223333:listener-rule/app/shop/50dc6c495c0c9188/0467ef3c8400ae65/1a2b3c4d5e6f7a8b"
}

variable "load_balancer_role_arn" {
  description = "The role ECS assumes to move the listener rules' weights"
  type        = string
  default     = "arn:aws:iam::111122223333:role/ecs-infrastructure-elb"
}

data "aws_cloudformation_export" "pre_scale_up" {
  name = "${var.greenlight_stack_name}-PreScaleUpFunctionArn"
}

data "aws_cloudformation_export" "post_scale_up" {
  name = "${var.greenlight_stack_name}-PostScaleUpFunctionArn"
}

data "aws_cloudformation_export" "test_traffic" {
  name = "${var.greenlight_stack_name}-TestTrafficFunctionArn"
}

data "aws_cloudformation_export" "production_traffic" {
  name = "${var.greenlight_stack_name}-ProductionTrafficFunctionArn"
}

data "aws_cloudformation_export" "hook_role" {
  name = "${var.greenlight_stack_name}-HookInvokeRoleArn"
}

# Each hook's greenlight config: the stages it names replace the built-in plan's; the others keep it.
locals {
  admission = {
    greenlight = {
      version = 1
      stages = {
        PRE_SCALE_UP = [
          { image = { registries = ["*.dkr.ecr.*.amazonaws.com"], require_immutable_tags = true, max_findings = { CRITICAL = 0 } } },
        ]
      }
    }
  }
  test_traffic = {
    greenlight = {
      version = 1
      stages = {
        POST_TEST_TRAFFIC_SHIFT = [
          { http = { target = "test_listener", health_check = true, requests = 100, concurrency = 4, expect = { max_error_rate = "1%", p99 = "300ms" } } },
        ]
      }
    }
  }
  production = {
    # Read at each invocation from SSM; {cluster} and {service} are filled in per deployment.
    greenlightConfig = "ssm:/greenlight/config/{cluster}/{service}"
  }
}

resource "aws_ecs_service" "checkout" {
  name                              = "checkout"
  cluster                           = var.cluster_arn
  task_definition                   = var.task_definition_arn
  desired_count                     = 4
  launch_type                       = "FARGATE"
  health_check_grace_period_seconds = 30
  deployment_maximum_percent         = 200
  deployment_minimum_healthy_percent = 100

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [var.security_group_id]
    assign_public_ip = false
  }

  deployment_controller {
    type = "ECS"
  }

  alarms {
    alarm_names = ["checkout-5xx"]
    enable      = true
    rollback    = true
  }

  load_balancer {
    target_group_arn = var.blue_target_group_arn
    container_name   = "web"
    container_port   = 8080
    advanced_configuration {
      alternate_target_group_arn = var.green_target_group_arn
      production_listener_rule   = var.production_listener_rule_arn
      test_listener_rule         = var.test_listener_rule_arn
      role_arn                   = var.load_balancer_role_arn
    }
  }

  deployment_configuration {
    strategy             = "BLUE_GREEN"
    bake_time_in_minutes = 10

    lifecycle_hook {
      hook_target_arn  = data.aws_cloudformation_export.pre_scale_up.value
      role_arn         = data.aws_cloudformation_export.hook_role.value
      lifecycle_stages = ["RECONCILE_SERVICE", "PRE_SCALE_UP"]
      hook_details     = jsonencode(local.admission)
    }

    lifecycle_hook {
      hook_target_arn  = data.aws_cloudformation_export.post_scale_up.value
      role_arn         = data.aws_cloudformation_export.hook_role.value
      lifecycle_stages = ["POST_SCALE_UP"]
    }

    lifecycle_hook {
      hook_target_arn  = data.aws_cloudformation_export.test_traffic.value
      role_arn         = data.aws_cloudformation_export.hook_role.value
      lifecycle_stages = ["TEST_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT"]
      hook_details     = jsonencode(local.test_traffic)
    }

    # PRE_PRODUCTION_TRAFFIC_SHIFT (no alarm already firing before production moves) needs a
    # provider whose lifecycle_stages accepts it; until then PRODUCTION_TRAFFIC_SHIFT's bake
    # watches the same alarms.
    lifecycle_hook {
      hook_target_arn  = data.aws_cloudformation_export.production_traffic.value
      role_arn         = data.aws_cloudformation_export.hook_role.value
      lifecycle_stages = ["PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT"]
      hook_details     = jsonencode(local.production)
    }
  }
}
